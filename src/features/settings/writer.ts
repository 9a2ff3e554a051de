import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";
import { notFound, validationFailed } from "../../core/problem.ts";
import { withTimeout } from "../../../common/timeout.ts";
import type { SettingsCache } from "./cache.ts";
import type { SettingsEvents } from "./events.ts";
import type { LocalSnapshot } from "./local-snapshot.ts";
import { checkAgainstSchema, checkSchemaUsable } from "./json-schema.ts";
import {
  byteLength,
  type JsonSchema,
  MAX_SCHEMA_BYTES,
  MAX_SETTINGS,
  MAX_VALUE_BYTES,
  type SettingChanged,
  type StoredSetting,
  type Visibility,
} from "./model.ts";
import { evaluate, type Preconditions } from "./preconditions.ts";
import { preconditionFailed, preconditionRequired, tooManySettings } from "./problems.ts";
import type { SettingsRepository } from "./repository.ts";

export interface WriterDeps {
  repo: SettingsRepository;
  cache: SettingsCache | null;
  /** This isolate's snapshot: replaced by every write through it (read-your-writes), dropped if that cannot be. */
  local: LocalSnapshot | null;
  events: SettingsEvents;
  background: BackgroundTasks;
  log: Logger;
  now(): number;
  /** Runs one Postgres operation with a deadline; a fault becomes a 503 problem. */
  database<T>(work: () => Promise<T>): Promise<T>;
  /** Bound on publishing one change to realtime. */
  publishTimeoutMs: number;
}

export interface PutInput {
  key: string;
  value: unknown;
  /** Undefined: keep the stored one ("admin" for a new key). */
  visibility?: Visibility | undefined;
  /** Undefined: keep the stored one; null: remove it. */
  schema?: JsonSchema | null | undefined;
  preconditions: Preconditions;
  actor: string | null;
}

export interface RemoveInput {
  key: string;
  preconditions: Preconditions;
  actor: string | null;
}

function checkValue(value: unknown): void {
  if (value === undefined) throw validationFailed([{ path: "value", message: "is required" }]);
  if (byteLength(value) > MAX_VALUE_BYTES) {
    throw validationFailed([{ path: "value", message: `must be at most ${MAX_VALUE_BYTES} bytes as JSON` }]);
  }
}

function checkSchema(schema: JsonSchema): void {
  if (byteLength(schema) > MAX_SCHEMA_BYTES) {
    throw validationFailed([{ path: "schema", message: `must be at most ${MAX_SCHEMA_BYTES} bytes as JSON` }]);
  }
  const usable = checkSchemaUsable(schema);
  if (!usable.ok) throw validationFailed(usable.errors);
}

/**
 * Conditional writes. Postgres commits first (the truth); then the cache gets a new generation and
 * a fresh snapshot, and the change is published. Nothing after the commit can fail or undo it: cache
 * and realtime faults are logged, and the snapshot's freshness window bounds what a missed
 * invalidation can cost (docs/settings.md).
 */
export function createSettingsWriter(deps: WriterDeps) {
  const { repo, log } = deps;

  async function refreshCache(): Promise<void> {
    const cache = deps.cache;
    if (!cache) return;
    let generation: string;
    try {
      generation = await cache.invalidate();
    } catch (error) {
      // The local copy goes too: this instance's next read goes through Redis, then Postgres.
      deps.local?.install(null);
      log.warn("settings cache not invalidated after a commit; stale for at most the freshness window", { error });
      return;
    }
    // Replace the snapshot now so the next reader hits. It is labelled with the generation set
    // above, before Postgres is read, as every refill must be.
    let all: StoredSetting[];
    const startedAt = deps.now();
    try {
      all = await deps.database(() => repo.listAll());
    } catch (error) {
      deps.local?.install(null);
      log.warn("settings snapshot not refilled after a commit; the next reader will", { error });
      return;
    }
    // This isolate serves its own write from memory at once, whatever happens to the Redis copy.
    deps.local?.install({ generation, all, builtAt: startedAt, validatedAt: startedAt });
    try {
      await cache.store(generation, all, startedAt, { releaseLock: false });
    } catch (error) {
      log.warn("settings snapshot not refilled after a commit; the next reader will", { error });
    }
  }

  function publish(event: SettingChanged): void {
    // After the response: a slow or broken realtime service must not hold up or fail the write.
    deps.background.waitUntil(
      withTimeout("realtime", deps.publishTimeoutMs, deps.events.publish(event)).catch((error: unknown) => {
        log.warn("setting change not published", { key: event.key, version: event.version, error });
      }),
    );
  }

  async function afterCommit(event: SettingChanged): Promise<void> {
    await refreshCache();
    publish(event);
  }

  const changed = (s: StoredSetting): SettingChanged => ({
    type: "setting.changed",
    key: s.key,
    version: s.version,
    ...(s.visibility === "public" && { value: s.value }),
  });

  return {
    async put(input: PutInput): Promise<{ setting: StoredSetting; created: boolean }> {
      checkValue(input.value);
      if (input.schema !== undefined && input.schema !== null) checkSchema(input.schema);

      const current = await deps.database(() => repo.get(input.key));
      const verdict = evaluate(input.preconditions, current?.version ?? null);
      if (verdict === "required") {
        throw preconditionRequired('Send If-Match: "<version>" to update, or If-None-Match: * to create.');
      }
      if (verdict === "failed") throw preconditionFailed(current);

      const schema = input.schema === undefined ? (current?.schema ?? null) : input.schema;
      if (schema !== null) {
        const check = checkAgainstSchema(schema, input.value);
        if (!check.ok) throw validationFailed(check.errors, "The value does not satisfy the setting's JSON Schema.");
      }

      if (!current) {
        const result = await deps.database(() =>
          repo.create({
            key: input.key,
            value: input.value,
            visibility: input.visibility ?? "admin",
            schema,
            actor: input.actor,
            maxSettings: MAX_SETTINGS,
          }),
        );
        if (result.status === "exists") throw preconditionFailed(null);
        if (result.status === "full") {
          throw tooManySettings();
        }
        await afterCommit(changed(result.setting));
        return { setting: result.setting, created: true };
      }

      // Conditional on the version we checked (and validated the schema of): a concurrent writer
      // that committed first makes this update match no row.
      const updated = await deps.database(() =>
        repo.update({
          key: input.key,
          expectedVersion: current.version,
          value: input.value,
          visibility: input.visibility,
          schema: input.schema,
          actor: input.actor,
        }),
      );
      if (!updated) throw preconditionFailed(null);
      await afterCommit(changed(updated));
      return { setting: updated, created: false };
    },

    async remove(input: RemoveInput): Promise<void> {
      if (!input.preconditions.ifMatch) throw preconditionRequired('Send If-Match: "<version>" to delete.');
      const current = await deps.database(() => repo.get(input.key));
      if (!current) throw notFound();
      if (evaluate(input.preconditions, current.version) !== "pass") throw preconditionFailed(current);
      const version = await deps.database(() =>
        repo.remove({ key: input.key, expectedVersion: current.version, actor: input.actor }),
      );
      if (version === null) throw preconditionFailed(null);
      await afterCommit({ type: "setting.changed", key: input.key, version, deleted: true });
    },
  };
}
