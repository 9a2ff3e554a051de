import { env } from "cloudflare:test";
import type { Bindings } from "../../../src/core/app-env.ts";
import type { RequestDeps } from "../../../src/core/deps.ts";
import { notFound, onError } from "../../../src/core/error-handler.ts";
import { requestFrame } from "../../../src/core/middleware.ts";
import { createRouter } from "../../../src/core/openapi.ts";
import { PrefixRouter } from "../../../src/core/prefix-router.ts";

/*
 * A bare app under the request frame, for the core's own tests (sync-chain, respond): routes added
 * by the caller, with `/v1/x` under its own PrefixRouter prefix (so its chains are fused), the app's
 * not-found and onError, and no clients (the routes under test never touch a dependency).
 */

type ProbeApp = ReturnType<typeof createRouter>;

const noClients = (): RequestDeps => ({
  deps: {} as RequestDeps["deps"],
  opened: () => false,
  close: async () => {},
});

export function framedApp(register: (app: ProbeApp) => void): ProbeApp {
  const app = createRouter({ router: new PrefixRouter(["/v1/x"]) });
  app.use(requestFrame({ createDeps: noClients }));
  register(app);
  app.notFound(notFound(app));
  app.onError(onError);
  return app;
}

export const probeCtx = {
  waitUntil: () => {},
  passThroughOnException: () => {},
  props: {},
} as unknown as ExecutionContext;
export const probeBindings = env as unknown as Bindings;
/** The same bindings with CORS configured (the frame's awaiting form). */
export const probeBindingsWithCors = Object.freeze({ ...probeBindings, CORS_ORIGINS: "https://app.test" }) as Bindings;
