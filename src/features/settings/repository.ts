import { and, count, desc, eq, lt, max, sql } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { withDatabase } from "../../core/database-errors.ts";
import { type SettingHistoryRow, type SettingRow, settings, settingsHistory } from "../../db/schema.ts";
import type { HistoryEntry, JsonSchema, StoredSetting, Visibility } from "./model.ts";

/** What the settings services need from Postgres, the source of truth. */
export interface SettingsRepository {
  listAll(): Promise<StoredSetting[]>;
  get(key: string): Promise<StoredSetting | null>;
  create(input: CreateInput): Promise<CreateResult>;
  /** Null when the version is no longer `expectedVersion` (or the key is gone): a concurrent writer won. */
  update(input: UpdateInput): Promise<StoredSetting | null>;
  /** The version the deletion committed as, or null when `expectedVersion` is stale. */
  remove(input: RemoveInput): Promise<number | null>;
  /** Newest first, versions below `beforeVersion` when given. */
  history(key: string, options: { beforeVersion?: number | undefined; limit: number }): Promise<HistoryEntry[]>;
}

export interface CreateInput {
  key: string;
  value: unknown;
  visibility: Visibility;
  schema: JsonSchema | null;
  actor: string | null;
  /** Creation is refused once this many settings exist. */
  maxSettings: number;
}

export type CreateResult = { status: "created"; setting: StoredSetting } | { status: "exists" } | { status: "full" };

export interface UpdateInput {
  key: string;
  expectedVersion: number;
  value: unknown;
  /** Undefined keeps the stored one. */
  visibility?: Visibility | undefined;
  /** Undefined keeps the stored one; null removes it. */
  schema?: JsonSchema | null | undefined;
  actor: string | null;
}

export interface RemoveInput {
  key: string;
  expectedVersion: number;
  actor: string | null;
}

// JSON goes in as text cast to jsonb, so a JSON `null` value is stored as jsonb null, not SQL NULL.
const jsonb = (value: unknown) => sql`${JSON.stringify(value)}::jsonb`;

const toSetting = (row: SettingRow): StoredSetting => ({
  key: row.key,
  value: row.value,
  version: row.version,
  visibility: row.visibility,
  updatedAt: row.updatedAt.toISOString(),
  updatedBy: row.updatedBy,
  schema: (row.schema ?? null) as JsonSchema | null,
});

const toHistory = (row: SettingHistoryRow): HistoryEntry => ({
  key: row.key,
  value: row.deleted ? null : row.value,
  version: row.version,
  visibility: row.visibility,
  deleted: row.deleted,
  changedAt: row.changedAt.toISOString(),
  changedBy: row.changedBy,
});

/** The history row of a committed write: the setting as it now is, by whom. */
const historyOf = (row: SettingRow, value: unknown, actor: string | null) => ({
  key: row.key,
  value: jsonb(value),
  version: row.version,
  visibility: row.visibility,
  changedAt: row.updatedAt,
  changedBy: actor,
});

/**
 * Drizzle over the request's pool. Every change writes `settings` and appends `settings_history` in
 * one transaction, and updates are conditional on the version, so of two writers holding the same
 * version exactly one commits. Every query runs in withDatabase, like every repository's.
 */
export function createSettingsRepository(db: Database): SettingsRepository {
  return {
    listAll: () =>
      withDatabase(async () => {
        const rows = await db.select().from(settings).orderBy(settings.key);
        return rows.map(toSetting);
      }),

    get: (key) =>
      withDatabase(async () => {
        const [row] = await db.select().from(settings).where(eq(settings.key, key)).limit(1);
        return row ? toSetting(row) : null;
      }),

    create: (input) =>
      withDatabase(() =>
        db.transaction(async (tx) => {
          const [total] = await tx.select({ n: count() }).from(settings);
          if ((total?.n ?? 0) >= input.maxSettings) return { status: "full" } as const;
          // A key deleted and made again continues its version line, so history keeps one row per version.
          const [last] = await tx
            .select({ version: max(settingsHistory.version) })
            .from(settingsHistory)
            .where(eq(settingsHistory.key, input.key));
          const version = (last?.version ?? 0) + 1;
          const [row] = await tx
            .insert(settings)
            .values({
              key: input.key,
              value: jsonb(input.value),
              version,
              visibility: input.visibility,
              schema: input.schema === null ? null : jsonb(input.schema),
              updatedBy: input.actor,
            })
            .onConflictDoNothing({ target: settings.key })
            .returning();
          if (!row) return { status: "exists" } as const;
          await tx.insert(settingsHistory).values(historyOf(row, input.value, input.actor));
          return { status: "created", setting: toSetting(row) } as const;
        }),
      ),

    update: (input) =>
      withDatabase(() =>
        db.transaction(async (tx) => {
          const [row] = await tx
            .update(settings)
            .set({
              value: jsonb(input.value),
              version: sql`${settings.version} + 1`,
              ...(input.visibility !== undefined && { visibility: input.visibility }),
              ...(input.schema !== undefined && { schema: input.schema === null ? null : jsonb(input.schema) }),
              updatedAt: sql`now()`,
              updatedBy: input.actor,
            })
            .where(and(eq(settings.key, input.key), eq(settings.version, input.expectedVersion)))
            .returning();
          if (!row) return null;
          await tx.insert(settingsHistory).values(historyOf(row, input.value, input.actor));
          return toSetting(row);
        }),
      ),

    remove: (input) =>
      withDatabase(() =>
        db.transaction(async (tx) => {
          const [row] = await tx
            .delete(settings)
            .where(and(eq(settings.key, input.key), eq(settings.version, input.expectedVersion)))
            .returning();
          if (!row) return null;
          // The deletion is a change of its own: it takes the next version, so a client holding the
          // last ETag learns of it and a re-created key continues from there.
          const version = row.version + 1;
          await tx.insert(settingsHistory).values({
            key: row.key,
            value: null,
            version,
            visibility: row.visibility,
            deleted: true,
            changedBy: input.actor,
          });
          return version;
        }),
      ),

    history: (key, options) =>
      withDatabase(async () => {
        const rows = await db
          .select()
          .from(settingsHistory)
          .where(
            options.beforeVersion === undefined
              ? eq(settingsHistory.key, key)
              : and(eq(settingsHistory.key, key), lt(settingsHistory.version, options.beforeVersion)),
          )
          .orderBy(desc(settingsHistory.version))
          .limit(options.limit);
        return rows.map(toHistory);
      }),
  };
}
