import type { Bindings } from "./core/app-env.ts";
import { runJob } from "./composition/job.ts";
import { sweepPendingUploads } from "./features/assets/sweeper.ts";
import { pruneExpiredMailTokens, pruneExpiredRefreshTokens } from "./features/auth/prune.ts";

/**
 * The Cron Trigger's work. Each job is independent: one failing (say, storage down) neither stops
 * the other nor throws out of the handler; whatever it left is retried by the next run.
 */
export async function runScheduledJobs(env: Bindings, now: Date): Promise<void> {
  await Promise.all([
    runJob(env, "sweep-pending-uploads", (deps, log) => sweepPendingUploads(deps, log, now)),
    runJob(env, "prune-refresh-tokens", async (deps, log) => {
      try {
        const removed = await pruneExpiredRefreshTokens(deps.db, now);
        const mailTokens = await pruneExpiredMailTokens(deps.db, now);
        log.info("pruned expired refresh tokens", { removed, mailTokens });
      } catch (error) {
        log.error("pruning refresh tokens failed; the next run retries", { error });
      }
    }),
  ]);
}
