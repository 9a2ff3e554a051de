import { withDatabase } from "../../core/database-errors.ts";
import { decodeCursor, encodeCursor } from "../../core/cursor.ts";
import { notFound } from "../../core/problem.ts";
import { type LocalReadDeps, readLocal } from "./local-snapshot.ts";
import {
  canSee,
  type HistoryEntry,
  MAX_SETTINGS_HISTORY_PAGE,
  type SettingsContext,
  type StoredSetting,
  type Viewer,
  visibleTo,
} from "./model.ts";
import { DEFAULT_READ_TIMING, type ReadResult, type ReaderDeps, readThrough } from "./reader.ts";
import { createSettingsWriter, type PutInput, type RemoveInput } from "./writer.ts";

export interface HistoryPage {
  items: HistoryEntry[];
  nextCursor: string | null;
}

export const DEFAULT_PUBLISH_TIMEOUT_MS = 3_000;

const MAX_VERSION = 2_147_483_647;

// Opaque to clients; a version number underneath ("v12"), so pages stay stable while history grows.
const encodeVersionCursor = (version: number) => encodeCursor(`v${version}`);
const decodeVersionCursor = (cursor: string): number =>
  decodeCursor(cursor, (text) => {
    const match = /^v([1-9][0-9]{0,9})$/.exec(text);
    // Versions are Postgres integers: a larger number was never issued (and would fail the query).
    return match?.[1] && Number(match[1]) <= MAX_VERSION ? Number(match[1]) : undefined;
  });

// What the reads and writes derive from a context. A context lives for one request (wiring.ts), so
// deriving per call costs what the old per-request factory did, without a cache of derived state.

/** One Postgres operation under the context's deadline (the repository maps its own errors). */
const databaseOf =
  (ctx: SettingsContext) =>
  <T>(work: () => Promise<T>): Promise<T> =>
    withDatabase(work, { timeoutMs: ctx.databaseTimeoutMs });

function readerOf(ctx: SettingsContext): ReaderDeps {
  const database = databaseOf(ctx);
  return {
    cache: ctx.cache,
    loadAll: () => database(() => ctx.repo.listAll()),
    log: ctx.log,
    now: ctx.now ?? Date.now,
    timing: { ...DEFAULT_READ_TIMING, ...ctx.timing },
  };
}

/** The isolate's copy in front of the cache; null without both (a copy is bounded by a generation). */
function localOf(ctx: SettingsContext, reader: ReaderDeps): LocalReadDeps | null {
  return ctx.cache && ctx.local
    ? { local: ctx.local, cache: ctx.cache, reader, background: ctx.background, log: ctx.log, now: reader.now }
    : null;
}

/** Built only for a write: a read (nearly every request) never pays for the writer's set-up. */
const writerOf = (ctx: SettingsContext) =>
  createSettingsWriter({
    repo: ctx.repo,
    cache: ctx.cache,
    local: ctx.cache ? (ctx.local ?? null) : null,
    events: ctx.events,
    background: ctx.background,
    log: ctx.log,
    now: ctx.now ?? Date.now,
    database: databaseOf(ctx),
    publishTimeoutMs: ctx.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
  });

// Runtime settings: cache-first reads with visibility per caller, conditional writes, history.

/** Every setting the viewer may see, sorted by key. */
export async function listSettings(ctx: SettingsContext, viewer: Viewer): Promise<ReadResult<StoredSetting[]>> {
  const reader = readerOf(ctx);
  const local = localOf(ctx, reader);
  const result = local
    ? await readLocal(local, (entry) => entry.all)
    : await readThrough(
        reader,
        (c) => c.probeAll(),
        (all) => all,
      );
  return { data: visibleTo(result.data, viewer), source: result.source };
}

/** One setting; 404 when it is missing or hidden from the viewer (the two are indistinguishable). */
export async function getSetting(
  ctx: SettingsContext,
  viewer: Viewer,
  key: string,
): Promise<ReadResult<StoredSetting>> {
  const reader = readerOf(ctx);
  const local = localOf(ctx, reader);
  const result = local
    ? await readLocal(local, (entry) => entry.byKey.get(key) ?? null)
    : await readThrough(
        reader,
        (c) => c.probeOne(key),
        (all) => all.find((s) => s.key === key) ?? null,
      );
  if (!result.data || !canSee(viewer, result.data.visibility)) throw notFound();
  return { data: result.data, source: result.source };
}

/** Creates or replaces a setting under its preconditions (writer.ts). */
export const putSetting = (ctx: SettingsContext, input: PutInput) => writerOf(ctx).put(input);

/** Deletes a setting under its preconditions (writer.ts). */
export const removeSetting = (ctx: SettingsContext, input: RemoveInput) => writerOf(ctx).remove(input);

/** Past versions, newest first (deletions included). 404 when the key never existed. */
export async function settingHistory(
  ctx: SettingsContext,
  key: string,
  options: { cursor?: string | undefined; limit: number },
): Promise<HistoryPage> {
  const beforeVersion = options.cursor === undefined ? undefined : decodeVersionCursor(options.cursor);
  const limit = Math.min(Math.max(options.limit, 1), MAX_SETTINGS_HISTORY_PAGE);
  const rows = await databaseOf(ctx)(() => ctx.repo.history(key, { beforeVersion, limit: limit + 1 }));
  if (rows.length === 0 && beforeVersion === undefined) throw notFound();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeVersionCursor(last.version) : null };
}
