// Server certificates (infra/tls.ts; not wired into the servers yet, issue 13): the names they
// cover, the program's own CA and a server certificate it signs, the Secret servers will mount,
// and cert-manager's Certificate, valid against cert-manager's schema.
import * as assert from "assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesServiceHost } from "../infra/kubernetes";
import { SelfSignedCa, certManagerServerCertificate, dockerServerDnsNames, kubernetesServerDnsNames, selfSignedServerCertificate, serverTlsSecret, serverTlsSecretName } from "../infra/tls";
import { finder, isSecretWrapper, plaintextOccurrences, runProgram } from "./helpers/pulumi";
import { modelFor } from "./helpers/models";

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

describe("server certificates (infra/tls.ts)", () => {
    it("cover the host apps are given, the headless Service and the pod, short and in full, and localhost; each a valid DNS name", () => {
        const names = kubernetesServerDnsNames("postgresql-a-very-long-application-name-for-tests", "databases");
        assert.ok(names.includes(kubernetesServiceHost("postgresql-a-very-long-application-name-for-tests", "databases")), "the Service host apps receive");
        for (const n of ["postgresql-a-very-long-application-name-for-tests", "postgresql-a-very-long-application-name-for-tests-headless.databases", "postgresql-a-very-long-application-name-for-tests-0.postgresql-a-very-long-application-name-for-tests-headless.databases.svc.cluster.local", "localhost"]) {
            assert.ok(names.includes(n), n);
        }
        for (const n of names) assert.match(n, DNS_NAME);
        assert.strictEqual(new Set(names).size, names.length);
        assert.deepStrictEqual(dockerServerDnsNames("tenant-databases-dev-postgresql"), ["tenant-databases-dev-postgresql", "localhost"]);
    });

    it("selfSigned: an ECDSA P-256 CA and a server certificate it signs for the server's names and 127.0.0.1, kept as the Secret <server>-tls with secret keys", async () => {
        const provider = () => new k8s.Provider("k8s", {});
        const run = await runProgram(() => {
            const parent = new pulumi.ComponentResource("test:index:Parent", "p");
            const ca = new SelfSignedCa("ca", { commonName: "tenant-databases stack CA" }, { parent });
            const cert = selfSignedServerCertificate("postgresql-tls", ca, kubernetesServerDnsNames("postgresql", "databases"), parent);
            return serverTlsSecret("postgresql-tls", "postgresql", "databases", cert, provider(), parent);
        });
        const find = finder(run.resources);
        for (const key of find.all("tls:index/privateKey:PrivateKey")) assert.deepStrictEqual([key.inputs.algorithm, key.inputs.ecdsaCurve], ["ECDSA", "P256"]);
        const ca = find.one("tls:index/selfSignedCert:SelfSignedCert", "ca-cert");
        assert.strictEqual(ca.inputs.isCaCertificate, true);
        assert.deepStrictEqual(ca.inputs.allowedUses, ["cert_signing", "crl_signing", "digital_signature"]);
        const cert = find.one("tls:index/locallySignedCert:LocallySignedCert", "postgresql-tls-cert");
        assert.deepStrictEqual(cert.inputs.allowedUses, ["digital_signature", "key_encipherment", "server_auth"]);
        assert.ok(cert.inputs.earlyRenewalHours > 0 && cert.inputs.earlyRenewalHours < cert.inputs.validityPeriodHours);
        assert.ok(isSecretWrapper(cert.rawInputs.caPrivateKeyPem), "the CA's key reaches the signer as a secret");
        const request = find.one("tls:index/certRequest:CertRequest", "postgresql-tls-request");
        assert.deepStrictEqual(request.inputs.ipAddresses, ["127.0.0.1"]);
        assert.ok(request.inputs.dnsNames.includes("postgresql.databases.svc.cluster.local"));
        const secret = find.one("kubernetes:core/v1:Secret", "postgresql-tls");
        assert.deepStrictEqual([secret.inputs.metadata.name, secret.inputs.type], [serverTlsSecretName("postgresql"), "kubernetes.io/tls"]);
        assert.ok(isSecretWrapper(secret.rawInputs.stringData), "the Secret's payload is a secret");
        assert.deepStrictEqual(Object.keys(secret.inputs.stringData).sort(), ["ca.crt", "tls.crt", "tls.key"]);
        assert.match(secret.inputs.stringData["tls.key"], /^-----BEGIN PRIVATE KEY-----/);
        const Model = await modelFor("v1", "Secret");
        assert.doesNotThrow(() => new Model(secret.inputs).validate());
        // The secrets audit: no private key in plain text in any input.
        assert.ok(run.passwords.length >= 2);
        for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], `${r.type} ${r.name}`);
    });

    it("cert-manager: a Certificate into <server>-tls from the configured issuer, valid against cert-manager's schema", async () => {
        const run = await runProgram(() =>
            certManagerServerCertificate(
                "postgresql-certificate",
                { server: "postgresql", namespace: "databases", issuer: { kind: "ClusterIssuer", name: "internal-ca" }, dnsNames: kubernetesServerDnsNames("postgresql", "databases") },
                new k8s.Provider("k8s", {}),
                new pulumi.ComponentResource("test:index:Parent", "p"),
            ),
        );
        const certificate = finder(run.resources).one("kubernetes:cert-manager.io/v1:Certificate", "postgresql-certificate");
        const spec = certificate.inputs.spec;
        assert.deepStrictEqual([spec.secretName, spec.issuerRef], ["postgresql-tls", { group: "cert-manager.io", kind: "ClusterIssuer", name: "internal-ca" }]);
        assert.deepStrictEqual(spec.ipAddresses, ["127.0.0.1"]);
        assert.deepStrictEqual(spec.privateKey, { algorithm: "ECDSA", size: 256, encoding: "PKCS8", rotationPolicy: "Always" });
        const Model = await modelFor(certificate.inputs.apiVersion, certificate.inputs.kind);
        assert.doesNotThrow(() => new Model(certificate.inputs).validate());
        // The schema check is not vacuous: an unknown key usage is refused.
        assert.throws(() => new Model({ ...certificate.inputs, spec: { ...spec, usages: ["serverauth"] } }).validate());
    });
});
