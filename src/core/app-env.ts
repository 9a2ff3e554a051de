import type { Config } from "./config.ts";
import type { Deps } from "./deps.ts";
import type { Logger } from "../../common/logger.ts";
import type { Principal } from "./principal.ts";

/** Bindings from wrangler.toml (generated into worker-configuration.d.ts) plus secrets, read through Config. */
export type Bindings = CloudflareEnv & Record<string, unknown>;

/** The one Hono environment type of the service. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    config: Config;
    log: Logger;
    deps: Deps;
    /** Set by the auth guards once a token verified. */
    principal: Principal | undefined;
  };
}
