// Certificates for servers (issue 13, not wired into the servers yet): the names a server's
// certificate covers on each target, a CA this program makes and keeps (`selfSigned`, also for
// Docker), a server certificate signed by it, and a cert-manager Certificate for clusters that
// run cert-manager. Private keys are Pulumi secrets; a Kubernetes Secret `<server>-tls` holds
// tls.crt, tls.key and ca.crt, the keys cert-manager writes too, so servers mount one shape.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/** Where a stack's server certificates come from. */
export type TlsIssuer = { certManager: { kind: "ClusterIssuer" | "Issuer"; name: string } } | { selfSigned: true };

/** The Secret a server's certificate is kept in (both issuers), in the server namespace. */
export function serverTlsSecretName(server: string): string {
    return `${server}-tls`;
}

/** The IP address every server certificate covers: in-pod probes and clients connect to 127.0.0.1. */
export const SERVER_CERT_IP_ADDRESSES = ["127.0.0.1"];

/**
 * The names a server's certificate covers on Kubernetes: its Service and headless Service, and
 * its pod through the headless Service, each short and fully qualified; `localhost` for in-pod
 * probes. Apps verify the host name they are given (the Service's full name).
 */
export function kubernetesServerDnsNames(server: string, namespace: string, clusterDomain = "cluster.local"): string[] {
    const forms = (host: string) => [host, `${host}.${namespace}`, `${host}.${namespace}.svc`, `${host}.${namespace}.svc.${clusterDomain}`];
    const headless = `${server}-headless`;
    return [...forms(server), ...forms(headless), ...forms(`${server}-0.${headless}`), "localhost"];
}

/** The names a server's certificate covers on Docker: apps and `pulumi up` reach it on 127.0.0.1 (an IP address), containers by name. */
export function dockerServerDnsNames(container: string): string[] {
    return [container, "localhost"];
}

/** How long the program's certificates live, and when `pulumi up` renews them. */
export const SELF_SIGNED_VALIDITY = {
    caHours: 10 * 365 * 24,
    serverHours: 365 * 24,
    /** A `pulumi up` in the last 30 days of a server certificate replaces it. */
    serverEarlyRenewalHours: 30 * 24,
};

// ECDSA P-256: the provider's default curve is P-224, which clients and servers refuse.
const KEY = { algorithm: "ECDSA", ecdsaCurve: "P256" };

/** The stack's own CA (`selfSigned`): its key stays in Pulumi state as a secret. */
export class SelfSignedCa extends pulumi.ComponentResource {
    readonly certPem: pulumi.Output<string>;
    readonly privateKeyPem: pulumi.Output<string>;

    constructor(name: string, args: { commonName: string }, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:tls:SelfSignedCa", name, {}, opts);
        const key = new tls.PrivateKey(`${name}-key`, KEY, { parent: this });
        const cert = new tls.SelfSignedCert(
            `${name}-cert`,
            {
                privateKeyPem: key.privateKeyPem,
                isCaCertificate: true,
                subject: { commonName: args.commonName, organization: "tenant-databases" },
                validityPeriodHours: SELF_SIGNED_VALIDITY.caHours,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );
        this.certPem = cert.certPem;
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem });
    }
}

/** A server's certificate signed by the stack's CA: its key (PKCS#8), certificate and the CA, all PEM. */
export interface ServerCertificate {
    keyPem: pulumi.Output<string>;
    certPem: pulumi.Output<string>;
    caPem: pulumi.Output<string>;
}

/** A server certificate from the stack's own CA, for these names and 127.0.0.1. */
export function selfSignedServerCertificate(name: string, ca: SelfSignedCa, dnsNames: string[], parent: pulumi.Resource): ServerCertificate {
    const key = new tls.PrivateKey(`${name}-key`, KEY, { parent });
    const request = new tls.CertRequest(
        `${name}-request`,
        { privateKeyPem: key.privateKeyPem, subject: { commonName: dnsNames[0], organization: "tenant-databases" }, dnsNames, ipAddresses: SERVER_CERT_IP_ADDRESSES },
        { parent },
    );
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: ca.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: SELF_SIGNED_VALIDITY.serverHours,
            earlyRenewalHours: SELF_SIGNED_VALIDITY.serverEarlyRenewalHours,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { parent },
    );
    return { keyPem: pulumi.secret(key.privateKeyPemPkcs8), certPem: cert.certPem, caPem: ca.certPem };
}

/** The server's certificate as the Secret `<server>-tls` (cert-manager's keys): what a server mounts. */
export function serverTlsSecret(name: string, server: string, namespace: pulumi.Input<string>, cert: ServerCertificate, provider: k8s.Provider, parent: pulumi.Resource): k8s.core.v1.Secret {
    return new k8s.core.v1.Secret(
        name,
        {
            metadata: { name: serverTlsSecretName(server), namespace, labels: { "app.kubernetes.io/managed-by": "tenant-databases", "app.kubernetes.io/instance": server } },
            type: "kubernetes.io/tls",
            stringData: pulumi.secret(pulumi.all([cert.certPem, cert.keyPem, cert.caPem]).apply(([crt, key, ca]) => ({ "tls.crt": crt, "tls.key": key, "ca.crt": ca }))),
        },
        { parent, provider },
    );
}

/**
 * A cert-manager Certificate for a server: cert-manager writes `<server>-tls` (tls.crt, tls.key,
 * ca.crt) and renews it before it expires, without `pulumi up`. ECDSA P-256 in PKCS#8 (what every
 * engine reads), a new key at each renewal.
 */
export function certManagerServerCertificate(
    name: string,
    args: { server: string; namespace: pulumi.Input<string>; issuer: { kind: "ClusterIssuer" | "Issuer"; name: string }; dnsNames: string[] },
    provider: k8s.Provider,
    parent: pulumi.Resource,
): k8s.apiextensions.CustomResource {
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { name: args.server, namespace: args.namespace, labels: { "app.kubernetes.io/managed-by": "tenant-databases", "app.kubernetes.io/instance": args.server } },
            spec: {
                secretName: serverTlsSecretName(args.server),
                issuerRef: { group: "cert-manager.io", kind: args.issuer.kind, name: args.issuer.name },
                commonName: args.dnsNames[0],
                dnsNames: args.dnsNames,
                ipAddresses: SERVER_CERT_IP_ADDRESSES,
                duration: "2160h",
                renewBefore: "720h",
                privateKey: { algorithm: "ECDSA", size: 256, encoding: "PKCS8", rotationPolicy: "Always" },
                usages: ["server auth", "digital signature", "key encipherment"],
            },
        },
        { parent, provider },
    );
}
