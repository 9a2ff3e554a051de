import { sql } from "drizzle-orm";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { TimeoutError, withTimeout } from "../../../common/timeout.ts";

export interface Check {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Readiness {
  status: "ok" | "degraded" | "down";
  checks: { postgres: Check; redis: Check; storage: Check };
}

/** Each probe gets its own budget so one slow dependency cannot hide the others' state. */
export const READINESS_TIMEOUT_MS = 2_000;

async function probe(name: string, log: Logger, work: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await withTimeout(name, READINESS_TIMEOUT_MS, work());
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    log.warn("readiness check failed", { dependency: name, error });
    // A classification only: upstream error text can carry hosts or credentials.
    const reason = error instanceof TimeoutError ? `timeout after ${READINESS_TIMEOUT_MS} ms` : "unavailable";
    return { ok: false, ms: Date.now() - started, error: reason };
  }
}

/**
 * Postgres is the truth: without it the service is down. Redis is a cache and storage only
 * backs assets, so losing either degrades the service but keeps it serving.
 */
export async function checkReadiness(deps: Deps, log: Logger): Promise<Readiness> {
  const redis = deps.redis;
  const [postgres, redisCheck, storage] = await Promise.all([
    probe("postgres", log, () => deps.db.execute(sql`select 1`)),
    redis
      ? probe("redis", log, () => redis.ping())
      : Promise.resolve<Check>({ ok: false, ms: 0, error: "not configured" }),
    probe("storage", log, () => deps.storage.ping(READINESS_TIMEOUT_MS)),
  ]);
  const status = !postgres.ok ? "down" : redisCheck.ok && storage.ok ? "ok" : "degraded";
  return { status, checks: { postgres, redis: redisCheck, storage } };
}
