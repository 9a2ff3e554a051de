import { withDatabase } from "../../core/database-errors.ts";
import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";
import { decodeCursor, encodeCursor } from "../../core/cursor.ts";
import { notFound } from "../../core/problem.ts";
import type { SettingsCache } from "./cache.ts";
import type { SettingsEvents } from "./events.ts";
import { type LocalSnapshot, readLocal } from "./local-snapshot.ts";
import {
  canSee,
  type HistoryEntry,
  MAX_SETTINGS_HISTORY_PAGE,
  type StoredSetting,
  type Viewer,
  visibleTo,
} from "./model.ts";
import { DEFAULT_READ_TIMING, type ReadResult, type ReadTiming, readThrough } from "./reader.ts";
import type { SettingsRepository } from "./repository.ts";
import { createSettingsWriter, type PutInput, type RemoveInput } from "./writer.ts";

export interface SettingsServiceDeps {
  repo: SettingsRepository;
  /** Null when no cache is configured: every read goes to Postgres. */
  cache: SettingsCache | null;
  /**
   * The isolate's snapshot in front of the cache (local-snapshot.ts); absent or null: every read goes
   * to Redis. Only used with a cache: without a generation to check, a copy could not be bounded.
   */
  local?: LocalSnapshot | null;
  events: SettingsEvents;
  background: BackgroundTasks;
  log: Logger;
  /** Deadline for one Postgres operation (a transaction included). */
  databaseTimeoutMs: number;
  publishTimeoutMs?: number;
  timing?: Partial<ReadTiming>;
  /** Injected in tests to move time; Date.now otherwise. */
  now?: () => number;
}

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

/** Runtime settings: cache-first reads with visibility per caller, conditional writes, history. */
export function createSettingsService(deps: SettingsServiceDeps) {
  const now = deps.now ?? Date.now;
  const timing = { ...DEFAULT_READ_TIMING, ...deps.timing };

  // The repository maps its own errors (withDatabase); this adds the deadline over one operation.
  const database = <T>(work: () => Promise<T>): Promise<T> => withDatabase(work, { timeoutMs: deps.databaseTimeoutMs });

  const readerDeps = {
    cache: deps.cache,
    loadAll: () => database(() => deps.repo.listAll()),
    log: deps.log,
    now,
    timing,
  };

  const local = deps.cache && deps.local ? { local: deps.local, cache: deps.cache } : null;
  const localDeps = local && {
    ...local,
    reader: readerDeps,
    background: deps.background,
    log: deps.log,
    now,
  };

  // Built on the first write: a read (nearly every request) never pays for the writer's set-up.
  let writer: ReturnType<typeof createSettingsWriter> | undefined;
  const writerOf = () =>
    (writer ??= createSettingsWriter({
      repo: deps.repo,
      cache: deps.cache,
      local: local?.local ?? null,
      events: deps.events,
      background: deps.background,
      log: deps.log,
      now,
      database,
      publishTimeoutMs: deps.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
    }));

  return {
    /** Every setting the viewer may see, sorted by key. */
    async list(viewer: Viewer): Promise<ReadResult<StoredSetting[]>> {
      const result = localDeps
        ? await readLocal(localDeps, (entry) => entry.all)
        : await readThrough(
            readerDeps,
            (c) => c.probeAll(),
            (all) => all,
          );
      return { data: visibleTo(result.data, viewer), source: result.source };
    },

    /** One setting; 404 when it is missing or hidden from the viewer (the two are indistinguishable). */
    async get(viewer: Viewer, key: string): Promise<ReadResult<StoredSetting>> {
      const result = localDeps
        ? await readLocal(localDeps, (entry) => entry.byKey.get(key) ?? null)
        : await readThrough(
            readerDeps,
            (c) => c.probeOne(key),
            (all) => all.find((s) => s.key === key) ?? null,
          );
      if (!result.data || !canSee(viewer, result.data.visibility)) throw notFound();
      return { data: result.data, source: result.source };
    },

    put: (input: PutInput) => writerOf().put(input),
    remove: (input: RemoveInput) => writerOf().remove(input),

    /** Past versions, newest first (deletions included). 404 when the key never existed. */
    async history(key: string, options: { cursor?: string | undefined; limit: number }): Promise<HistoryPage> {
      const beforeVersion = options.cursor === undefined ? undefined : decodeVersionCursor(options.cursor);
      const limit = Math.min(Math.max(options.limit, 1), MAX_SETTINGS_HISTORY_PAGE);
      const rows = await database(() => deps.repo.history(key, { beforeVersion, limit: limit + 1 }));
      if (rows.length === 0 && beforeVersion === undefined) throw notFound();
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeVersionCursor(last.version) : null };
    },
  };
}

export type SettingsService = ReturnType<typeof createSettingsService>;
