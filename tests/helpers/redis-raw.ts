// A bare RESP2 connection for attacker tests: sends exactly the bytes asked for, with no client
// library in between (no handshake, no retries, no command filtering), and reads replies in order.
import * as net from "net";

export class ReplyError extends Error {}

export type Reply = string | number | null | ReplyError | Reply[];

export class RawRedis {
    private buffer = Buffer.alloc(0);
    private readonly waiting: { resolve(r: Reply): void; reject(e: Error): void }[] = [];
    /** Resolves when the server closes the connection (or it fails), with any unread bytes. */
    readonly closed: Promise<string>;
    private ended = false;

    private constructor(private readonly socket: net.Socket) {
        socket.on("data", (chunk) => {
            this.buffer = Buffer.concat([this.buffer, chunk]);
            this.drain();
        });
        this.closed = new Promise((resolve) => {
            const done = () => {
                if (this.ended) return;
                this.ended = true;
                for (const w of this.waiting.splice(0)) w.reject(new Error(`connection closed (${this.buffer.toString("utf8", 0, 200)})`));
                resolve(this.buffer.toString("utf8", 0, 2000));
            };
            socket.on("close", done);
            socket.on("error", done);
        });
    }

    static connect(port: number): Promise<RawRedis> {
        return new Promise((resolve, reject) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("error", reject);
            socket.once("connect", () => {
                socket.off("error", reject);
                resolve(new RawRedis(socket));
            });
        });
    }

    /** Connects and authenticates (AUTH user password), optionally selecting a DB. */
    static async login(port: number, user: string, password: string, db?: number): Promise<RawRedis> {
        const conn = await RawRedis.connect(port);
        const auth = await conn.call("AUTH", user, password);
        if (auth !== "OK") throw new Error(`AUTH ${user} failed: ${String(auth)}`);
        if (db !== undefined) await conn.call("SELECT", String(db));
        return conn;
    }

    get isClosed(): boolean {
        return this.ended;
    }

    /** Sends one command; resolves with its reply (an error reply resolves as a ReplyError). */
    call(...args: (string | Buffer)[]): Promise<Reply> {
        const reply = this.next();
        this.write(encode(args));
        return reply;
    }

    /** The next reply to arrive (for replies of bytes written with write()). */
    next(): Promise<Reply> {
        return new Promise((resolve, reject) => {
            if (this.ended) return reject(new Error("connection closed"));
            this.waiting.push({ resolve, reject });
            this.drain();
        });
    }

    write(bytes: string | Buffer): void {
        if (!this.ended) this.socket.write(bytes);
    }

    close(): void {
        this.socket.destroy();
    }

    private drain() {
        while (this.waiting.length > 0) {
            const parsed = parse(this.buffer, 0);
            if (parsed === undefined) return;
            this.buffer = this.buffer.subarray(parsed.end);
            this.waiting.shift()!.resolve(parsed.value);
        }
    }
}

export function encode(args: (string | Buffer)[]): Buffer {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
        const b = typeof a === "string" ? Buffer.from(a) : a;
        parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
    }
    return Buffer.concat(parts);
}

function parse(buf: Buffer, start: number): { value: Reply; end: number } | undefined {
    const lineEnd = buf.indexOf("\r\n", start);
    if (lineEnd < 0) return undefined;
    const line = buf.toString("utf8", start + 1, lineEnd);
    const next = lineEnd + 2;
    switch (String.fromCharCode(buf[start])) {
        case "+":
            return { value: line, end: next };
        case "-":
            return { value: new ReplyError(line), end: next };
        case ":":
            return { value: Number(line), end: next };
        case "$": {
            const len = Number(line);
            if (len < 0) return { value: null, end: next };
            if (buf.length < next + len + 2) return undefined;
            return { value: buf.toString("utf8", next, next + len), end: next + len + 2 };
        }
        case "*": {
            const count = Number(line);
            if (count < 0) return { value: null, end: next };
            const items: Reply[] = [];
            let pos = next;
            for (let i = 0; i < count; i++) {
                const item = parse(buf, pos);
                if (item === undefined) return undefined;
                items.push(item.value);
                pos = item.end;
            }
            return { value: items, end: pos };
        }
        default:
            throw new Error(`unexpected RESP reply: ${buf.toString("utf8", start, Math.min(buf.length, start + 80))}`);
    }
}
