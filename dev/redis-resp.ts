// A minimal RESP2 client over node:net, just enough for the Upstash bridge and for probing Redis.
// Why not ioredis/redis: the bridge must see raw reply bytes (to base64-encode them exactly as Upstash
// does), must tell simple strings from bulk strings, must keep MULTI..EXEC atomic on one socket, and
// must put a hard deadline on every call. A 200-line client does all that with no extra dependency.
import { connect, type Socket } from "node:net";

/** An error reply from Redis; `message` is Redis' own text, e.g. "ERR value is not an integer or out of range". */
export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

/** The transport failed (refused, reset, timed out). Distinct from an error *reply*. */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

/** Simple strings are JS strings, bulk strings are Buffers (kept raw), integers numbers, nil null. */
export type RedisReply = string | Buffer | number | null | RedisReplyError | RedisReply[];

export type RedisArg = string | Buffer;

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

export function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  if (u.protocol !== "redis:") throw new Error(`only redis:// URLs are supported, got ${u.protocol}`);
  const target: RedisTarget = { host: u.hostname || "127.0.0.1", port: u.port ? Number(u.port) : 6379 };
  if (u.username) target.username = decodeURIComponent(u.username);
  if (u.password) target.password = decodeURIComponent(u.password);
  const db = u.pathname.replace(/^\//, "");
  if (db) target.db = Number(db);
  return target;
}

function encodeCommand(args: readonly RedisArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

// Sentinel for "not enough bytes yet"; parsing restarts from the reply's first byte when more arrive.
const INCOMPLETE = Symbol("incomplete");
type Parsed = { value: RedisReply; next: number } | typeof INCOMPLETE;

function parseReply(buf: Buffer, start: number): Parsed {
  if (start >= buf.length) return INCOMPLETE;
  const lineEnd = buf.indexOf("\r\n", start);
  if (lineEnd === -1) return INCOMPLETE;
  const type = String.fromCharCode(buf[start] ?? 0);
  const line = buf.toString("utf8", start + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, next: afterLine };
    case "-":
      return { value: new RedisReplyError(line), next: afterLine };
    case ":":
      return { value: Number(line), next: afterLine };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, next: afterLine };
      if (buf.length < afterLine + len + 2) return INCOMPLETE;
      return { value: Buffer.from(buf.subarray(afterLine, afterLine + len)), next: afterLine + len + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RedisReply[] = [];
      let pos = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        pos = item.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new RedisUnavailableError(`protocol error: unexpected reply type ${JSON.stringify(type)}`);
  }
}

interface Pending {
  remaining: number;
  replies: RedisReply[];
  resolve: (replies: RedisReply[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One socket to Redis. Batches are written in one write, so a MULTI..EXEC batch cannot interleave. */
export class RespConnection {
  readonly #socket: Socket;
  readonly #pending: Pending[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #broken: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(new RedisUnavailableError(`redis connection error: ${err.message}`)));
    socket.on("close", () => this.#fail(new RedisUnavailableError("redis connection closed")));
  }

  static async connect(target: RedisTarget, timeoutMs: number): Promise<RespConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new RedisUnavailableError(`connect to redis ${target.host}:${target.port} timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (err) => {
        clearTimeout(timer);
        s.destroy();
        reject(new RedisUnavailableError(`cannot reach redis at ${target.host}:${target.port}: ${err.message}`));
      });
    });
    socket.setNoDelay(true);
    const conn = new RespConnection(socket);
    const setup: RedisArg[][] = [];
    if (target.password !== undefined) {
      setup.push(target.username ? ["AUTH", target.username, target.password] : ["AUTH", target.password]);
    }
    if (target.db !== undefined && target.db !== 0) setup.push(["SELECT", String(target.db)]);
    if (setup.length > 0) {
      const replies = await conn.send(setup, timeoutMs);
      const failed = replies.find((r) => r instanceof RedisReplyError);
      if (failed instanceof RedisReplyError) {
        conn.close();
        throw new RedisUnavailableError(`redis handshake failed: ${failed.message}`);
      }
    }
    return conn;
  }

  /** False once the socket failed or a call timed out; such a connection must not be reused. */
  get usable(): boolean {
    return this.#broken === null;
  }

  /** Sends all commands in one write and resolves with one reply per command (error replies included). */
  async send(commands: readonly (readonly RedisArg[])[], timeoutMs: number): Promise<RedisReply[]> {
    if (this.#broken) throw this.#broken;
    if (commands.length === 0) return [];
    return await new Promise<RedisReply[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The reply stream is now out of step with our queue: the only safe move is to drop the socket.
        this.#fail(new RedisUnavailableError(`redis did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.push({ remaining: commands.length, replies: [], resolve, reject, timer });
      this.#socket.write(Buffer.concat(commands.map(encodeCommand)));
    });
  }

  close(): void {
    this.#fail(new RedisUnavailableError("redis connection closed by client"));
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let pos = 0;
    try {
      for (;;) {
        const parsed = parseReply(this.#buffer, pos);
        if (parsed === INCOMPLETE) break;
        pos = parsed.next;
        const head = this.#pending[0];
        if (!head) throw new RedisUnavailableError("protocol error: reply without a request");
        head.replies.push(parsed.value);
        if (--head.remaining === 0) {
          this.#pending.shift();
          clearTimeout(head.timer);
          head.resolve(head.replies);
        }
      }
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.#buffer = pos >= this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(pos);
  }

  #fail(err: Error): void {
    if (!this.#broken) this.#broken = err;
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#socket.destroy();
  }
}

export interface RedisPoolOptions {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxIdle?: number;
}

/**
 * A small pool: each batch gets a connection of its own for its duration, so a slow call never delays
 * another and transactions stay on one socket. The target can be swapped at run time (tests use that
 * to simulate Redis going away), which drops idle connections to the old target.
 */
export class RedisPool {
  #target: RedisTarget;
  #generation = 0;
  #idle: RespConnection[] = [];
  #busy = new Set<RespConnection>();
  #closed = false;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  readonly #maxIdle: number;

  constructor(url: string, opts: RedisPoolOptions = {}) {
    this.#target = parseRedisUrl(url);
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.#commandTimeoutMs = opts.commandTimeoutMs ?? 5000;
    this.#maxIdle = opts.maxIdle ?? 8;
  }

  get target(): RedisTarget {
    return this.#target;
  }

  setTarget(url: string): void {
    this.#target = parseRedisUrl(url);
    this.#generation++;
    for (const c of this.#idle.splice(0)) c.close();
  }

  async exec(commands: readonly (readonly RedisArg[])[]): Promise<RedisReply[]> {
    if (this.#closed) throw new RedisUnavailableError("redis pool is closed");
    const generation = this.#generation;
    const conn = this.#idle.pop() ?? (await RespConnection.connect(this.#target, this.#connectTimeoutMs));
    this.#busy.add(conn);
    try {
      return await conn.send(commands, this.#commandTimeoutMs);
    } finally {
      this.#busy.delete(conn);
      const reusable =
        conn.usable && !this.#closed && generation === this.#generation && this.#idle.length < this.#maxIdle;
      if (reusable) this.#idle.push(conn);
      else conn.close();
    }
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.close();
    for (const c of this.#busy) c.close();
    this.#busy.clear();
  }
}

/** One-shot PING with a short deadline: used to decide whether a Redis is there at all. */
export async function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const conn = await RespConnection.connect(parseRedisUrl(url), timeoutMs);
    try {
      const [reply] = await conn.send([["PING"]], timeoutMs);
      return reply === "PONG";
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}
