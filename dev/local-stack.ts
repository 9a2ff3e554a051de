// The local stand-ins for the Worker's backing services, composed once for both `npm run dev` and the
// test global setup:
//   Postgres  → PGlite (or a given DATABASE_URL) + the ws bridge the Neon driver needs locally
//   Upstash   → the REST bridge in front of a real Redis (found, spawned, or none: cache off)
//   R2        → the local S3 server with the bucket created
// It returns the Worker configuration values (`vars`) pointing at them and one close() for all.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { freePort } from "./free-port.ts";
import { type LogFn, silentLog } from "./log.ts";
import { startPgWsBridge } from "./pg-ws-bridge.ts";
import { startPgliteServer } from "./pglite-server.ts";
import { pingRedis } from "./redis-resp.ts";
import { startMailOutbox } from "./mail-outbox.ts";
import { startS3Server } from "./s3-server.ts";
import { startUpstashBridge } from "./upstash-bridge.ts";

export interface LocalStackOptions {
  /** Use this Postgres instead of PGlite. A local one (127.0.0.1/localhost) still gets the ws bridge. */
  databaseUrl?: string;
  /** Default redis://127.0.0.1:6379. When not given and nothing answers there, a `redis-server` from PATH is
   *  started on a free port; failing that the stack runs without a cache (UPSTASH_* omitted). */
  redisUrl?: string;
  /** Root for PGlite and S3 files. Default `.data` (relative to the current directory). */
  dataDir?: string;
  /** Default "assets". */
  bucket?: string;
  log?: LogFn;
  /** Leave a stand-in out because the caller configures the real thing (its vars are then omitted). */
  skip?: { cache?: boolean; s3?: boolean };
  /** Also start the mail API stand-in (dev/mail-outbox.ts): auth mails land in `<dataDir>/outbox/`. */
  mail?: boolean;
}

export interface LocalStack {
  /** DATABASE_URL, DATABASE_WS_PROXY?, UPSTASH_REDIS_REST_URL?, UPSTASH_REDIS_REST_TOKEN?, S3_*. */
  vars: Record<string, string>;
  /** One human-readable line per stand-in that runs, for banners. */
  services: string[];
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** host:port of a postgres:// URL, and whether it is on this machine. */
export function postgresAddress(url: string): { host: string; port: number; local: boolean } {
  const u = new URL(url);
  const host = u.hostname || "127.0.0.1";
  return { host, port: u.port ? Number(u.port) : 5432, local: LOCAL_HOSTS.has(host) };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export interface ResolvedRedis {
  url: string;
  /** What it is, for banners. */
  description: string;
  /** Stops a redis-server we spawned; no-op otherwise. */
  close(): Promise<void>;
}

/**
 * Finds the Redis to put behind the Upstash bridge: the configured one (used even if it does not answer,
 * with a warning), else one answering at probeUrl, else a `redis-server` from PATH on a free port
 * without persistence. Null when none of these works: the stack then runs without a cache.
 */
export async function resolveRedis(opts: {
  configured?: string;
  probeUrl?: string;
  command?: string;
  log?: LogFn;
}): Promise<ResolvedRedis | null> {
  const log = opts.log ?? silentLog;
  const none = async (): Promise<void> => {};
  if (opts.configured) {
    if (!(await pingRedis(opts.configured)))
      log(`warning: configured Redis ${redactUrl(opts.configured)} does not answer; cache calls will fail`);
    return { url: opts.configured, description: redactUrl(opts.configured), close: none };
  }
  const probeUrl = opts.probeUrl ?? "redis://127.0.0.1:6379";
  if (await pingRedis(probeUrl)) return { url: probeUrl, description: probeUrl, close: none };

  const port = await freePort();
  const child = spawn(
    opts.command ?? "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  const spawned = await new Promise<boolean>((res) => {
    child.once("error", () => res(false)); // ENOENT: not installed
    child.once("spawn", () => res(true));
  });
  if (!spawned) return null;
  // Last resort if the process exits without close(): never leave a redis-server behind.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const stop = async (): Promise<void> => {
    stopping = true;
    process.off("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    await exited;
  };
  const url = `redis://127.0.0.1:${port}`;
  let stopping = false;
  // A redis-server that dies under the stack is named, not silent: the cache then fails until a restart.
  child.once("exit", (code, sig) => {
    if (!stopping) log(`the spawned redis-server at ${url} exited (${sig ?? `code ${code}`}); cache calls will fail`);
  });
  if (!(await waitFor(() => pingRedis(url, 300), 5000))) {
    log(`redis-server started but did not answer on port ${port}`);
    await stop();
    return null;
  }
  return { url, description: `spawned redis-server at ${url}`, close: stop };
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = opts.log ?? silentLog;
  const dataDir = resolve(opts.dataDir ?? ".data");
  const bucket = opts.bucket ?? "assets";
  const vars: Record<string, string> = {};
  const services: string[] = [];
  // Closed in reverse order of start; if a later start fails, what already runs is closed before rethrowing.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "local stack did not close cleanly");
  };

  try {
    // Postgres
    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      const pglite = await startPgliteServer({ dataDir: join(dataDir, "pglite") });
      closers.push(() => pglite.close());
      databaseUrl = pglite.databaseUrl;
      services.push(`Postgres: PGlite (${join(dataDir, "pglite")}) at ${databaseUrl}`);
    } else {
      services.push(`Postgres: ${redactUrl(databaseUrl)}`);
    }
    vars.DATABASE_URL = databaseUrl;
    const pgAddress = postgresAddress(databaseUrl);
    if (pgAddress.local) {
      const bridge = await startPgWsBridge({ allow: [`${pgAddress.host}:${pgAddress.port}`] });
      closers.push(() => bridge.close());
      vars.DATABASE_WS_PROXY = bridge.url;
      services.push(`Postgres ws bridge: ${bridge.url}`);
    }

    // Redis behind the Upstash REST bridge
    if (!opts.skip?.cache) {
      const redis = await resolveRedis({ ...(opts.redisUrl ? { configured: opts.redisUrl } : {}), log });
      const redisUrl = redis?.url;
      if (redis) {
        closers.push(() => redis.close());
        if (redis.description.startsWith("spawned")) services.push(`Redis: ${redis.description}`);
      }
      if (redisUrl) {
        const token = randomBytes(24).toString("base64url");
        const upstash = await startUpstashBridge({ redisUrl, token });
        closers.push(() => upstash.close());
        vars.UPSTASH_REDIS_REST_URL = upstash.url;
        vars.UPSTASH_REDIS_REST_TOKEN = token;
        services.push(`Upstash REST bridge: ${upstash.url} → ${redactUrl(redisUrl)}`);
      } else {
        log(
          "cache is OFF: no Redis at 127.0.0.1:6379 and no redis-server on PATH (set REDIS_URL or install redis-server to enable it)",
        );
        services.push("Cache: off (no Redis)");
      }
    }

    // S3 (R2 stand-in)
    if (!opts.skip?.s3) {
      const s3 = await startS3Server({ directory: join(dataDir, "s3"), buckets: [bucket] });
      closers.push(() => s3.close());
      Object.assign(vars, {
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_PUBLIC_BASE_URL: `${s3.endpoint}/${bucket}`,
        S3_FORCE_PATH_STYLE: "true",
      });
      services.push(`S3: ${s3.endpoint}/${bucket} (${join(dataDir, "s3")})`);
    }

    // Mail API (Resend's POST /emails) → one JSON file per message
    if (opts.mail) {
      const outbox = await startMailOutbox({ directory: join(dataDir, "outbox") });
      closers.push(() => outbox.close());
      Object.assign(vars, {
        MAIL_API_URL: outbox.url,
        MAIL_API_KEY: outbox.apiKey,
        MAIL_FROM: "edge-backend <no-reply@localhost>",
      });
      services.push(`Mail: outbox ${outbox.directory} (${outbox.url})`);
    }
  } catch (err) {
    await closeAll().catch(() => {});
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    vars,
    services,
    close: () => {
      closing ??= closeAll();
      return closing;
    },
  };
}

/** Hides a password in a URL for logs and banners. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}
