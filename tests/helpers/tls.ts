// Certificates for TLS tests, made with the openssl CLI in a temporary directory: a CA, and
// server certificates it signs. EC P-256 keys: each certificate takes milliseconds (RSA keys take
// far longer to generate).
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireBinary } from "./servers";

const INSTALL_HINT = "apt-get install -y openssl";

/** A certificate and its key, as PEM files. */
export interface CertificateFiles {
    cert: string;
    key: string;
}

export interface TestCa {
    /** The CA certificate (PEM) that clients trust. */
    caFile: string;
    /** A server certificate signed by the CA, for `subjectAltName`s such as `DNS:localhost` or `IP:127.0.0.1`. */
    issue(name: string, altNames: string[]): Promise<CertificateFiles>;
}

/** The names a server on loopback answers to. */
export const LOOPBACK_NAMES = ["DNS:localhost", "IP:127.0.0.1"];

/** Runs openssl with stdin at its end (s_client then closes once connected); resolves with its output. */
function openssl(args: string[]): Promise<string> {
    const binary = requireBinary("openssl", INSTALL_HINT);
    return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
        child.once("error", reject);
        child.once("close", (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(stdout);
            else reject(new Error(`openssl ${args[0]} exited with ${code ?? signal}:\n${stderr}`));
        });
    });
}

const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];

/** A CA in `dir` (its key stays there); `issue` writes each certificate into a directory of its own under `dir`. */
export async function makeTestCa(dir: string): Promise<TestCa> {
    const caFile = path.join(dir, "ca.crt");
    const caKey = path.join(dir, "ca.key");
    const asCa = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];
    await openssl(["req", "-x509", "-new", ...NEW_KEY, "-keyout", caKey, "-out", caFile, "-subj", "/CN=tenant-databases test CA", ...asCa]);
    let issued = 0;
    return {
        caFile,
        async issue(name, altNames) {
            const out = path.join(dir, `${++issued}-${name.replace(/[^a-z0-9.-]/gi, "_")}`);
            fs.mkdirSync(out);
            const files = { cert: path.join(out, "tls.crt"), key: path.join(out, "tls.key") };
            // A leaf, for TLS servers only; OpenSSL 3's `req -x509 -CA` signs it with the CA at once.
            const asLeaf = ["-addext", `subjectAltName=${altNames.join(",")}`, "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"];
            await openssl(["req", "-x509", "-new", ...NEW_KEY, "-keyout", files.key, "-out", files.cert, "-subj", `/CN=${name}`, "-CA", caFile, "-CAkey", caKey, ...asLeaf]);
            return files;
        },
    };
}

/**
 * Puts `pair` at the server's paths, each file replaced by a rename (a reader never sees half a
 * file), the key readable by its owner only, or with `group` by that group too (0640, root-owned:
 * PostgreSQL's rule for a key it does not own, as in a Secret volume with fsGroup).
 */
export function installCertificate(pair: CertificateFiles, target: CertificateFiles, group?: number): void {
    for (const [from, to, mode] of [
        [pair.cert, target.cert, 0o644],
        [pair.key, target.key, group === undefined ? 0o600 : 0o640],
    ] as const) {
        const next = `${to}.next`;
        fs.copyFileSync(from, next);
        if (group !== undefined) fs.chownSync(next, process.getuid!(), group);
        fs.chmodSync(next, mode);
        fs.renameSync(next, to);
    }
}

/** A PEM file's certificate, as openssl prints it. */
export function certificatePem(file: string): string {
    return pemBlock(fs.readFileSync(file, "utf8"));
}

function pemBlock(text: string): string {
    const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
    if (!match) throw new Error(`no certificate in: ${text.slice(0, 500)}`);
    return match[0];
}

/**
 * The certificate a server on 127.0.0.1:`port` presents to a new connection (openssl s_client,
 * which checks nothing), `starttls` for protocols that ask for TLS inside their own.
 */
export async function servedCertificate(port: number, starttls?: "postgres" | "mysql"): Promise<string> {
    return pemBlock(await openssl(["s_client", "-connect", `127.0.0.1:${port}`, ...(starttls ? ["-starttls", starttls] : [])]));
}
