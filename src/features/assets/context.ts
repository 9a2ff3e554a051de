import { objectStore } from "../../adapters/storage.ts";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../core/logger.ts";
import { isAdmin, type Principal } from "../../core/principal.ts";
import { roomAssetEvents } from "./events.ts";
import { settingsLimits } from "./limits.ts";
import { drizzleAssetRepository } from "./repository.ts";
import type { Actor, AssetServiceDeps } from "./service-deps.ts";

/** Wires the asset services to this request's clients. Everything is lazy: nothing connects until used. */
export function assetServiceDeps(deps: Deps, log: Logger, config: Config): AssetServiceDeps {
  let store: AssetServiceDeps["store"] | undefined;
  let repo: AssetServiceDeps["repo"] | undefined;
  let events: AssetServiceDeps["events"] | undefined;
  return {
    get store() {
      store ??= objectStore(deps.storage);
      return store;
    },
    get repo() {
      repo ??= drizzleAssetRepository(deps.db);
      return repo;
    },
    get events() {
      events ??= roomAssetEvents(deps.rooms, deps.background, log);
      return events;
    },
    limits: settingsLimits(deps, { config, log }),
    log,
    now: () => new Date(),
  };
}

export const actorOf = (principal: Principal | undefined): Actor | null =>
  principal ? { userId: principal.userId, admin: isAdmin(principal) } : null;
