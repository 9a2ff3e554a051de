import type { AssetRow } from "../../db/schema.ts";

/** The public shape of an asset (../shared/API.md, Assets). */
export interface AssetView {
  id: string;
  url: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string | null;
  visibility: "public" | "private";
  status: "pending" | "ready";
  ownerId: string;
  createdAt: string;
}

export const toAssetView = (row: AssetRow): AssetView => ({
  id: row.id,
  url: row.url,
  filename: row.filename,
  contentType: row.contentType,
  size: row.size,
  sha256: row.sha256,
  visibility: row.visibility,
  status: row.status,
  ownerId: row.ownerId,
  createdAt: row.createdAt.toISOString(),
});
