// A local stand-in for the Upstash Redis REST API in front of a real Redis, so the Worker's
// @upstash/redis (and @upstash/ratelimit) client runs unchanged in dev and tests.
//
// Protocol, as @upstash/redis 1.39 uses it (node_modules/@upstash/redis, pkg/http.ts, pkg/pipeline.ts):
// - every call is `POST <base>/<path>` with `Authorization: Bearer <token>` and a JSON body;
//   path "" = one command (`["SET","k","v"]`), "pipeline" / "multi-exec" = an array of commands;
// - `Upstash-Encoding: base64` asks for every string in the result (nested ones too) base64-encoded,
//   except the status reply "OK" (the client passes "OK" through undecoded);
// - single command: 200 `{result}` or 400 `{error}`; pipeline: 200 `[{result}|{error}, ...]`;
// - the `upstash-sync-token` response header is stored by the client and sent back on the next call.
// Lua scripts may carry Upstash-only shebang flags (@upstash/ratelimit: `#!lua flags=allow-key-locking`);
// they are dropped before Redis sees them, with EVALSHA hashes translated (see upstash-scripts.ts).
// Also accepted, for curl: REST path commands (`GET /get/key`, `POST /set/key` with the value as body)
// and `?_token=`. Not supported: SUBSCRIBE/PSUBSCRIBE streams and commands that change connection state.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type RedisArg, RedisPool, type RedisReply, RedisReplyError, RedisUnavailableError } from "./redis-resp.ts";
import { ScriptShaMap } from "./upstash-scripts.ts";
import { listenOnLoopback } from "./free-port.ts";

export interface UpstashBridgeOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** The real Redis, e.g. redis://127.0.0.1:6379 (password and /db supported). */
  redisUrl: string;
  /** Bearer token clients must send. */
  token: string;
  /** Deadline for each call to Redis (connect and reply), so the bridge never hangs. Default 2000/5000 ms. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

export interface UpstashBridge {
  /** http://127.0.0.1:PORT, the value for UPSTASH_REDIS_REST_URL. */
  url: string;
  token: string;
  /**
   * Points the bridge at another Redis from the next call on (idle connections to the old one are
   * dropped). Tests use it to simulate an outage: point it at a closed port, then back.
   */
  setRedisTarget(redisUrl: string): void;
  close(): Promise<void>;
}

// These would change the state of a pooled connection (or hold it forever), which Upstash does not allow either.
const FORBIDDEN = new Set([
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "select",
  "quit",
  "reset",
  "hello",
  "auth",
  "client",
  "sync",
  "psync",
  "shutdown",
]);

const MAX_BODY_BYTES = 64 * 1024 * 1024;

class BadRequest extends Error {}

function toArg(value: unknown): RedisArg {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  // @upstash/redis already serializes objects to JSON strings; do the same for anything else sent raw.
  return JSON.stringify(value) ?? "";
}

function toCommand(value: unknown): RedisArg[] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest("ERR failed to parse command");
  const args = value.map(toArg);
  const name = String(args[0]).toLowerCase();
  if (FORBIDDEN.has(name)) throw new BadRequest(`ERR Command is not allowed: ${name}`);
  return args;
}

function encodeReply(reply: RedisReply, base64: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (typeof reply === "string") {
    return base64 && reply !== "OK" ? Buffer.from(reply, "utf8").toString("base64") : reply;
  }
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (reply instanceof RedisReplyError) return reply.message;
  return reply.map((r) => encodeReply(r, base64));
}

type Entry = { result: unknown } | { error: string };

function toEntry(reply: RedisReply, base64: boolean): Entry {
  return reply instanceof RedisReplyError ? { error: reply.message } : { result: encodeReply(reply, base64) };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest("ERR request body too large");
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new BadRequest("ERR failed to parse command");
  }
}

function send(res: ServerResponse, status: number, body: unknown, syncToken: string): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    "upstash-sync-token": syncToken,
  });
  res.end(payload);
}

export async function startUpstashBridge(opts: UpstashBridgeOptions): Promise<UpstashBridge> {
  const pool = new RedisPool(opts.redisUrl, {
    connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
    commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
  });
  // The real service uses the token for read-your-writes across replicas; one Redis has no replicas,
  // so a counter that only goes up is a faithful enough echo.
  let syncCounter = 0;
  const scripts = new ScriptShaMap();

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const header = req.headers.authorization ?? "";
    const bearer = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
    return bearer === opts.token || url.searchParams.get("_token") === opts.token;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const sync = (): string => String(++syncCounter);
    if (!authorized(req, url)) {
      send(res, 401, { error: "Unauthorized" }, sync());
      return;
    }
    if (req.method !== "POST" && req.method !== "GET" && req.method !== "PUT") {
      send(res, 405, { error: "ERR method not allowed" }, sync());
      return;
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const body = await readBody(req);
    try {
      if (segments.length === 1 && (segments[0] === "pipeline" || segments[0] === "multi-exec")) {
        const parsed = parseJson(body);
        if (!Array.isArray(parsed) || parsed.length === 0) throw new BadRequest("ERR failed to parse pipeline request");
        const prepared = parsed.map((c) => scripts.prepare(toCommand(c)));
        const commands = prepared.map((p) => p.command);
        const fix = (replies: RedisReply[]): RedisReply[] => replies.map((r, i) => prepared[i]?.fixReply(r) ?? r);
        if (segments[0] === "pipeline") {
          const replies = fix(await pool.exec(commands));
          send(
            res,
            200,
            replies.map((r) => toEntry(r, base64)),
            sync(),
          );
          return;
        }
        const replies = await pool.exec([["MULTI"], ...commands, ["EXEC"]]);
        const exec = replies[replies.length - 1] ?? null;
        if (exec instanceof RedisReplyError || exec === null || !Array.isArray(exec)) {
          // A command failed while queueing (EXECABORT) or EXEC returned nil: report the first cause.
          const queued = replies.slice(1, -1).find((r) => r instanceof RedisReplyError);
          const message =
            queued instanceof RedisReplyError
              ? queued.message
              : exec instanceof RedisReplyError
                ? exec.message
                : "ERR transaction aborted";
          send(res, 400, { error: message }, sync());
          return;
        }
        send(
          res,
          200,
          fix(exec).map((r) => toEntry(r, base64)),
          sync(),
        );
        return;
      }
      if (segments.length === 1 && segments[0] === "subscribe")
        throw new BadRequest("ERR subscribe is not supported by the local Upstash bridge");
      // One command: the JSON body at "/", or REST path style with an optional raw body as the last argument.
      const prepared = scripts.prepare(
        segments.length === 0
          ? toCommand(parseJson(body))
          : toCommand(body.length > 0 ? [...segments, body.toString("utf8")] : segments),
      );
      const [raw = null] = await pool.exec([prepared.command]);
      const reply = prepared.fixReply(raw);
      if (reply instanceof RedisReplyError) send(res, 400, { error: reply.message }, sync());
      else send(res, 200, { result: encodeReply(reply, base64) }, sync());
    } catch (err) {
      if (err instanceof BadRequest) send(res, 400, { error: err.message }, sync());
      else if (err instanceof RedisUnavailableError)
        send(res, 503, { error: `ERR local Upstash bridge: ${err.message}` }, sync());
      else throw err;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: `ERR local Upstash bridge: ${String(err)}` }, "0");
      else res.destroy();
    });
  });
  // fetch() keeps connections alive; without this, close() would wait for the client to hang up.
  server.keepAliveTimeout = 5000;
  const port = await listenOnLoopback(server, opts.port);

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    token: opts.token,
    setRedisTarget: (redisUrl) => pool.setTarget(redisUrl),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        pool.close();
      });
      return closing;
    },
  };
}
