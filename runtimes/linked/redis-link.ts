// The TCP Redis connection that links instances off Workers (REDIS_URL). The Upstash REST client
// cannot subscribe or block, so linking needs a RESP client; node-redis runs on Node, Deno and Bun.
// Two connections: one for commands and scripts, one in subscriber mode (RESP2 forbids mixing them).
import { digestHex } from "../../common/encoding.ts";
import { createClient } from "redis";
import type { Logger } from "../../common/logger.ts";

/** All the linked rooms need from Redis: scripts, a few commands, and pub/sub. */
export interface LinkRedis {
  /** Runs a Lua script by SHA, loading it on NOSCRIPT; keys first, then arguments. */
  script(script: LuaScript, keys: string[], args: string[]): Promise<unknown>;
  command(args: string[]): Promise<unknown>;
  /** Both connections are up. */
  ready(): boolean;
  /** Settles once both connections are up (for start-up and tests; requests never wait on it). */
  whenReady(): Promise<void>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Called after the subscriber connection came back: deliveries in between may be missing. */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

export interface LuaScript {
  source: string;
  sha1: string;
}

/** SHA-1 of a script, as Redis names it (EVALSHA). */
export async function luaScript(source: string): Promise<LuaScript> {
  const sha1 = await digestHex(source, { algorithm: "SHA-1" });
  return { source, sha1 };
}

export interface LinkRedisOptions {
  url: string;
  log: Logger;
  /** Per-command deadline; a command past it rejects (the caller answers 503). */
  commandTimeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/** Reconnect backoff: 50 ms doubling to 2 s, with jitter so a fleet does not reconnect in step. */
const reconnectDelay = (retries: number): number =>
  Math.min(2_000, 50 * 2 ** Math.min(retries, 6)) * (0.5 + Math.random() / 2);

/** Validates REDIS_URL once, naming the key and the fix; never echoes the value (it holds a password). */
export function parseRedisUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("REDIS_URL must be a redis:// or rediss:// URL (e.g. rediss://default:<token>@host:6379)");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new Error("REDIS_URL must use redis:// or rediss:// (Upstash: the TCP endpoint, not the REST URL)");
  }
  return url;
}

/** How often a connection that keeps failing is logged again (every reconnect attempt errors). */
const ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * Opens the link. It returns at once and connects in the background, reconnecting for ever with
 * backoff: while Redis is unreachable every command fails fast (no offline queue), so callers
 * degrade (a 503 for a publish) instead of waiting, and the process never dies of it.
 */
export function openLinkRedis(options: LinkRedisOptions): LinkRedis {
  parseRedisUrl(options.url);
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const clientOptions = {
    url: options.url,
    socket: { reconnectStrategy: reconnectDelay, connectTimeout: timeoutMs },
    // Commands issued while disconnected fail at once instead of queueing without bound.
    disableOfflineQueue: true,
  };
  const commands = createClient(clientOptions);
  const subscriber = createClient(clientOptions);
  const reconnectListeners: Array<() => void> = [];
  let subscriberWasReady = false;
  // node-redis emits 'error' on every failed (re)connect; unhandled it would crash the process.
  let lastErrorLog = 0;
  const onError = (error: unknown) => {
    const now = Date.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    options.log.warn("redis link: connection error; reconnecting", { error });
  };
  commands.on("error", onError);
  subscriber.on("error", onError);
  commands.on("ready", () => {
    lastErrorLog = 0;
  });
  subscriber.on("ready", () => {
    if (subscriberWasReady) for (const listener of reconnectListeners) listener();
    subscriberWasReady = true;
  });
  // connect() settles only once connected (it retries meanwhile); failures surface through 'error'.
  const readyOf = (client: typeof commands) =>
    new Promise<void>((resolve) => {
      if (client.isReady) resolve();
      else client.once("ready", () => resolve());
    });
  const connected = Promise.all([readyOf(commands), readyOf(subscriber)]).then(() => {});
  commands.connect().catch(onError);
  subscriber.connect().catch(onError);

  const command = (args: string[]) => commands.sendCommand(args, { timeout: timeoutMs }) as Promise<unknown>;
  return {
    async script(script, keys, args) {
      const call = (verb: "EVALSHA" | "EVAL", body: string) =>
        command([verb, body, String(keys.length), ...keys, ...args]);
      try {
        return await call("EVALSHA", script.sha1);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return call("EVAL", script.source);
      }
    },
    command,
    ready: () => commands.isReady && subscriber.isReady,
    whenReady: () => connected,
    async subscribe(channel, listener) {
      await subscriber.subscribe(channel, (message: string) => listener(message));
    },
    async unsubscribe(channel) {
      await subscriber.unsubscribe(channel);
    },
    onReconnect(listener) {
      reconnectListeners.push(listener);
    },
    async close() {
      await Promise.allSettled([commands.close(), subscriber.close()]);
    },
  };
}
