import { isUuid } from "../../../common/encoding.ts";
import { notFound } from "../../core/problem.ts";
import type { AssetRow } from "../../db/schema.ts";
import type { Actor, AssetServiceDeps } from "./model.ts";

/** Who may see and change an asset. Everyone else is told it does not exist. */

export const canManage = (actor: Actor | null, row: AssetRow): boolean =>
  actor !== null && (actor.admin || actor.userId === row.ownerId);

/** Private and unfinished assets are invisible to everyone but their owner and admins. */
export const canSee = (actor: Actor | null, row: AssetRow): boolean =>
  canManage(actor, row) || (row.visibility === "public" && row.status === "ready");

export async function findVisible(deps: AssetServiceDeps, actor: Actor | null, id: string): Promise<AssetRow> {
  const row = isUuid(id) ? await deps.repo.find(id) : null;
  if (!row || !canSee(actor, row)) throw notFound();
  return row;
}
