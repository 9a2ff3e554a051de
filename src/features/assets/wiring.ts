import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { isAdmin, type Principal } from "../../core/principal.ts";
import { assertActiveSession } from "../auth/authenticate.ts";
import { completeUpload, createDirectUpload } from "./direct-upload.ts";
import { roomAssetEvents } from "./events.ts";
import { settingsLimits } from "./limits.ts";
import type { Actor, AssetServiceDeps } from "./model.ts";
import { uploadThroughWorker } from "./raw-upload.ts";
import { drizzleAssetRepository } from "./repository.ts";
import { contentLocation, deleteAsset, getAsset, listAssets } from "./service.ts";

/** What a feature's wiring is built from: the request's clients, config and logger (`c.var` fits). */
export interface AssetsScope {
  deps: Deps;
  config: Config;
  log: Logger;
}

export const actorOf = (principal: Principal | undefined): Actor | null =>
  principal ? { userId: principal.userId, admin: isAdmin(principal) } : null;

/** The asset services' dependencies over this request's clients. Lazy: nothing connects until used. */
function assetServiceDeps({ deps, config, log }: AssetsScope): AssetServiceDeps {
  let repo: AssetServiceDeps["repo"] | undefined;
  let events: AssetServiceDeps["events"] | undefined;
  return {
    get store() {
      return deps.storage;
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

/**
 * The assets feature as routes use it: one object per request, each method taking the caller
 * (the principal a guard set; undefined for anonymous reads) and the request's input.
 */
export function assetsServiceFor(scope: AssetsScope) {
  const deps = assetServiceDeps(scope);
  const signedIn = (principal: Principal): Actor => ({ userId: principal.userId, admin: isAdmin(principal) });
  return {
    upload: (principal: Principal, input: Parameters<typeof uploadThroughWorker>[2]) =>
      uploadThroughWorker(deps, signedIn(principal), input),
    createUpload: (principal: Principal, input: Parameters<typeof createDirectUpload>[2]) =>
      createDirectUpload(deps, signedIn(principal), input),
    complete: (principal: Principal, id: string, parts: Parameters<typeof completeUpload>[3]) =>
      completeUpload(deps, signedIn(principal), id, parts),
    list: (principal: Principal, query: Parameters<typeof listAssets>[2]) =>
      listAssets(deps, signedIn(principal), query),
    get: (principal: Principal | undefined, id: string) => getAsset(deps, actorOf(principal), id),
    contentLocation: (principal: Principal | undefined, id: string) => contentLocation(deps, actorOf(principal), id),
    /** An admin deleting someone else's asset is an admin write: the session must still be active. */
    remove: (principal: Principal, id: string) =>
      deleteAsset(deps, signedIn(principal), id, () => assertActiveSession(principal, scope)),
  };
}

export type AssetsService = ReturnType<typeof assetsServiceFor>;
