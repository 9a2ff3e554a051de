import type { ObjectStore } from "../../adapters/storage.ts";
import type { Logger } from "../../../common/logger.ts";
import type { AssetEvents } from "./events.ts";
import type { LoadLimits } from "./limits.ts";
import type { AssetRepository } from "./repository.ts";

/** Everything the asset services use, as narrow interfaces: no Hono, no request. */
export interface AssetServiceDeps {
  store: ObjectStore;
  repo: AssetRepository;
  limits: LoadLimits;
  events: AssetEvents;
  log: Logger;
  now(): Date;
}

/** Who is asking: a signed-in user (admins may read and delete any asset) or nobody. */
export interface Actor {
  userId: string;
  admin: boolean;
}

export type Visibility = "public" | "private";
