import type { Bindings } from "../core/app-env.ts";
import { configFor } from "../core/config.ts";
import type { Deps } from "../core/deps.ts";
import { createDeps } from "./deps.ts";
import { createLogger, type Logger } from "../../common/logger.ts";

/**
 * Runs a scheduled job with its own clients, as a request would: built from the env, closed after,
 * and any background work it handed off awaited before the job counts as done.
 */
export async function runJob<T>(
  env: Bindings,
  name: string,
  work: (deps: Deps, log: Logger) => Promise<T>,
): Promise<T> {
  const config = configFor(env);
  const log = createLogger(config.LOG_LEVEL, { job: name });
  const background: Promise<unknown>[] = [];
  const { deps, close } = createDeps(config, env, { waitUntil: (p) => void background.push(p) });
  try {
    return await work(deps, log);
  } finally {
    await Promise.allSettled(background);
    await close().catch((error: unknown) => log.warn("closing clients failed", { error }));
  }
}
