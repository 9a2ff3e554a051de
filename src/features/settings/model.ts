import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";
import type { SettingsCache } from "./cache.ts";
import type { SettingsEvents } from "./events.ts";
import type { LocalSnapshot } from "./local-snapshot.ts";
import type { ReadTiming } from "./reader.ts";
import type { SettingsRepository } from "./repository.ts";

/**
 * The settings domain, free of HTTP and storage: what a setting is, who may see it, and the
 * limits the contract sets (docs/settings.md). Routes, services and stores all speak these types.
 * The service functions (service.ts) all take a SettingsContext first; wiring.ts builds it.
 */

/** What every settings operation runs with: the stores (as interfaces), where to publish, the budgets. */
export interface SettingsContext {
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

export const SETTING_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
/** The contract's limit on one value, serialized as UTF-8 JSON. */
export const MAX_VALUE_BYTES = 64 * 1024;
/** A per-key JSON Schema is configuration, not data: kept small so validating stays cheap. */
export const MAX_SCHEMA_BYTES = 16 * 1024;
/** Settings in total. Bounds the cached snapshot (each read of the list ships all of them). */
export const MAX_SETTINGS = 500;
/** Largest page of history one request returns. */
export const MAX_SETTINGS_HISTORY_PAGE = 100;

export const VISIBILITIES = ["public", "authenticated", "admin"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface Setting {
  key: string;
  value: unknown;
  version: number;
  visibility: Visibility;
  updatedAt: string;
  updatedBy: string | null;
}

/** A setting as stored: the public shape plus the optional JSON Schema its writes must satisfy. */
export interface StoredSetting extends Setting {
  schema: JsonSchema | null;
}

/** A JSON Schema document (an object, or `true`/`false`). */
export type JsonSchema = Record<string, unknown> | boolean;

export interface HistoryEntry {
  key: string;
  value: unknown;
  version: number;
  visibility: Visibility;
  deleted: boolean;
  changedAt: string;
  changedBy: string | null;
}

/** The realtime event every committed change publishes to the `system` room. */
export interface SettingChanged {
  type: "setting.changed";
  key: string;
  version: number;
  value?: unknown;
  deleted?: true;
}

/** Who reads: decides which visibilities are in view. */
export type Viewer = "anonymous" | "user" | "admin";

const VISIBLE_TO: Record<Viewer, ReadonlySet<Visibility>> = {
  anonymous: new Set(["public"]),
  user: new Set(["public", "authenticated"]),
  admin: new Set(VISIBILITIES),
};

export const canSee = (viewer: Viewer, visibility: Visibility): boolean => VISIBLE_TO[viewer].has(visibility);

export const byteLength = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).byteLength;

// A snapshot (array) is immutable once read, so what each viewer sees of it is computed once: the
// local copy hands the same array to every request, and each of them gets the same filtered one.
const visibleLists = new WeakMap<readonly StoredSetting[], Map<Viewer, StoredSetting[]>>();

/** The settings of `all` the viewer may see (the same array for the same snapshot and viewer). */
export function visibleTo(all: readonly StoredSetting[], viewer: Viewer): StoredSetting[] {
  let byViewer = visibleLists.get(all);
  if (!byViewer) {
    byViewer = new Map();
    visibleLists.set(all, byViewer);
  }
  let list = byViewer.get(viewer);
  if (!list) {
    list = all.filter((s) => canSee(viewer, s.visibility));
    byViewer.set(viewer, list);
  }
  return list;
}
