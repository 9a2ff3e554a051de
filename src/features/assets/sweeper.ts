import type { ObjectStore } from "../../adapters/storage.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { type AssetRepository, drizzleAssetRepository } from "./repository.ts";
import { sweepCutoffs } from "./timing.ts";

/** Rows handled per batch, and batches per run: a run's work is bounded; the next run continues. */
export const SWEEP_BATCH_SIZE = 100;
export const SWEEP_MAX_BATCHES = 10;

export interface SweepResult {
  removed: number;
  failed: number;
}

/**
 * The recorded multipart upload plus any other open one on the same key: a Worker that died between
 * creating an upload and recording it leaves one only the store knows about. Listing is a safety
 * net; if the store cannot list, the recorded id still gets aborted.
 */
async function openUploads(
  store: ObjectStore,
  key: string,
  recorded: string | null,
  log: Logger,
): Promise<Set<string>> {
  const ids = new Set(recorded ? [recorded] : []);
  try {
    for (const id of await store.listMultipartUploads(key)) ids.add(id);
  } catch (error) {
    log.warn("listing multipart uploads failed; aborting only the recorded one", { error });
  }
  return ids;
}

/**
 * Removes pending uploads whose URLs expired (plus a grace period) without being completed:
 * abort their multipart uploads if any were started, delete the object if one was stored, then
 * delete the row (only if still pending). Each step is idempotent, so a run that dies midway is
 * finished by the next. A row whose cleanup fails stays for the next run.
 */
export async function sweepWith(
  store: ObjectStore,
  repo: AssetRepository,
  log: Logger,
  now: Date,
): Promise<SweepResult> {
  const result: SweepResult = { removed: 0, failed: 0 };
  const cutoffs = sweepCutoffs(now);
  const failedIds = new Set<string>();
  for (let batch = 0; batch < SWEEP_MAX_BATCHES; batch++) {
    const rows = (await repo.listStalePending(cutoffs, SWEEP_BATCH_SIZE + failedIds.size)).filter(
      (r) => !failedIds.has(r.id),
    );
    if (rows.length === 0) break;
    for (const row of rows.slice(0, SWEEP_BATCH_SIZE)) {
      try {
        for (const uploadId of await openUploads(store, row.objectKey, row.multipartUploadId, log)) {
          await store.abortMultipart(row.objectKey, uploadId);
        }
        await store.delete(row.objectKey);
        if (await repo.removePending(row.id)) result.removed++;
      } catch (error) {
        failedIds.add(row.id);
        result.failed++;
        log.warn("sweeping a pending upload failed; the next run retries", { assetId: row.id, error });
      }
    }
    if (rows.length < SWEEP_BATCH_SIZE) break;
  }
  return result;
}

/** The Cron Trigger's job (src/scheduled.ts runs it with runJob's clients). Never throws. */
export async function sweepPendingUploads(
  deps: Pick<Deps, "storage" | "db">,
  log: Logger,
  now: Date,
): Promise<SweepResult> {
  try {
    const result = await sweepWith(deps.storage, drizzleAssetRepository(deps.db), log, now);
    log.info("swept pending uploads", { ...result });
    return result;
  } catch (error) {
    // Postgres down: nothing was removed, nothing lost; the next run tries again.
    log.error("sweeping pending uploads failed", { error });
    return { removed: 0, failed: 0 };
  }
}
