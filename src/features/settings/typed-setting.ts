import type { z } from "zod";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import { createLogger, type Logger } from "../../../common/logger.ts";
import { ProblemError } from "../../core/problem.ts";
import type { SettingsContext } from "./model.ts";
import { createSettingsRepository } from "./repository.ts";
import { getSetting } from "./service.ts";
import { settingsContext } from "./wiring.ts";

/** What a route already has in `c.var`: pass it so the read goes through the shared cache. */
export interface TypedSettingScope {
  config: Pick<Config, "REDIS_KEY_PREFIX" | "DATABASE_TIMEOUT_MS"> &
    Partial<Pick<Config, "SETTINGS_LOCAL_TTL_MS" | "REDIS_TIMEOUT_MS">>;
  log: Logger;
}

/** Postgres budget when no scope (and so no configured timeout) is given. */
const FALLBACK_DATABASE_TIMEOUT_MS = 5_000;

/**
 * Reads a setting for the code itself (e.g. upload limits), validated by `schema`, falling back to
 * `fallback` when it is missing, invalid, or the stores are unavailable: a setting can tune the
 * service but never take it down.
 *
 * With `scope` (pass `c.var`) the read is the same cache-first read the HTTP API does: one Redis
 * round trip at steady state. Without it the Redis key prefix is unknown (Deps carries no config),
 * so the read goes to Postgres directly rather than touch keys outside this deployment's prefix.
 *
 * @example
 *   const limits = await readSettingValue(c.var.deps, "uploads.limits", LimitsSchema, DEFAULT_LIMITS, c.var);
 */
export async function readSettingValue<T>(
  deps: Deps,
  key: string,
  schema: z.ZodType<T>,
  fallback: T,
  scope?: TypedSettingScope,
): Promise<T> {
  const log = scope?.log ?? createLogger("warn");
  const ctx: SettingsContext = scope
    ? settingsContext({ deps, config: scope.config, log })
    : {
        repo: createSettingsRepository(deps.db),
        cache: null,
        // Reading publishes nothing.
        events: { publish: async () => {} },
        background: deps.background,
        log,
        databaseTimeoutMs: FALLBACK_DATABASE_TIMEOUT_MS,
      };
  try {
    const { data } = await getSetting(ctx, "admin", key);
    const parsed = schema.safeParse(data.value);
    if (parsed.success) return parsed.data;
    log.warn("setting does not match the code's schema; using the default", { key });
  } catch (error) {
    if (!(error instanceof ProblemError && error.status === 404)) {
      log.warn("setting unavailable; using the default", { key, error });
    }
  }
  return fallback;
}
