import type { AssetRow } from "../../db/schema.ts";

/** How long a presigned single PUT stays valid. */
export const PRESIGN_PUT_EXPIRY_SECONDS = 10 * 60;
/** Multipart uploads are large by definition: their part URLs get longer. */
export const PRESIGN_MULTIPART_EXPIRY_SECONDS = 60 * 60;
/** Private content redirects to a signed GET this short-lived. */
export const PRESIGN_GET_EXPIRY_SECONDS = 60;
/**
 * After its URLs expire, a pending upload may still be completed for half of this, and the
 * sweeper removes it only after all of it: the gap keeps a late `complete` and the sweeper apart.
 */
export const SWEEP_GRACE_MS = 5 * 60 * 1000;

const expiryMs = (multipart: boolean): number =>
  (multipart ? PRESIGN_MULTIPART_EXPIRY_SECONDS : PRESIGN_PUT_EXPIRY_SECONDS) * 1000;

/** A pending row created after this instant may still become ready. */
export const completableSince = (row: Pick<AssetRow, "multipartUploadId">, now: Date): Date =>
  new Date(now.getTime() - expiryMs(row.multipartUploadId !== null) - SWEEP_GRACE_MS / 2);

/** Pending rows created before these instants are abandoned (single PUT / multipart). */
export const sweepCutoffs = (now: Date): { single: Date; multipart: Date } => ({
  single: new Date(now.getTime() - expiryMs(false) - SWEEP_GRACE_MS),
  multipart: new Date(now.getTime() - expiryMs(true) - SWEEP_GRACE_MS),
});
