import { Redis } from "@upstash/redis/cloudflare";

export interface RedisOptions {
  url: string;
  token: string;
  timeoutMs: number;
}

/**
 * Upstash over HTTP: stateless, so safe to build per request. Each command is bounded by its own
 * timeout and is not retried here: callers decide how to degrade (the cache is never the truth).
 */
export function createRedis(options: RedisOptions): Redis {
  return new Redis({
    url: options.url,
    token: options.token,
    retry: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(options.timeoutMs),
  });
}

export type { Redis };
