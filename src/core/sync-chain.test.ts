import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { describe, expect, it, vi } from "vitest";
import {
  framedApp,
  probeBindings as bindings,
  probeCtx as ctx,
  probeBindingsWithCors as withCors,
} from "../../test/workers/support/frame.ts";
import type { AppEnv, Bindings } from "./app-env.ts";
import { freshRequestId } from "./middleware.ts";
import { unauthorized } from "./problem.ts";
import { afterNext, syncAware } from "./sync-chain.ts";

/** A sync-aware guard like requireUser: 401 without the header, else it sets the principal and goes on. */
const guard = syncAware((c: Context, next: () => unknown) => {
  if (!c.req.header("X-Let-In")) throw unauthorized();
  c.set("principal", { userId: "u", roles: [], sessionId: "s", tokenId: "t", expiresAt: 0 });
  return afterNext(next());
});
const plainAsync = createMiddleware<AppEnv>(async (_c, next) => {
  await next();
});

const probeApp = () =>
  framedApp((app) => {
    app.get("/sync", (c) => c.json({ ok: true }, 200, { "Cache-Control": "no-store" }));
    app.get("/v1/x/items/:id", guard, (c) => c.json({ id: c.req.param("id"), who: c.get("principal")?.userId }));
    app.get("/v1/x/late", guard, async (c) => {
      await Promise.resolve();
      return c.json({ late: true });
    });
    app.get("/v1/x/late-throw", guard, async () => {
      await Promise.resolve();
      throw new Error("boom");
    });
    app.get("/v1/x/composed", plainAsync, guard, (c) => c.json({ composed: true }));
  });

describe("hot paths without compose()", () => {
  const app = probeApp();
  const fetchOf = (path: string, init?: RequestInit, e: Bindings = bindings) =>
    app.fetch(new Request(`http://edge.test${path}`, init), e, ctx);

  it("answers a synchronous route synchronously, with the request id", async () => {
    const res = fetchOf("/sync");
    expect(res).toBeInstanceOf(Response);
    expect((res as Response).status).toBe(200);
    expect((res as Response).headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect((res as Response).headers.get("Cache-Control")).toBe("no-store");
  });

  it("runs sync-aware middleware and the handler with the route's own parameters", async () => {
    const res = await fetchOf("/v1/x/items/42", { headers: { "X-Let-In": "1" } });
    expect(await res.json()).toEqual({ id: "42", who: "u" });
  });

  it("answers a guard's refusal and a handler's late error as problems carrying the id (and CORS headers)", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    for (const e of [bindings, withCors]) {
      const refused = await fetchOf("/v1/x/items/1", { headers: { Origin: "https://app.test" } }, e);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { requestId: string }).requestId).toBe(refused.headers.get("X-Request-Id"));
      const failed = await fetchOf("/v1/x/late-throw", { headers: { "X-Let-In": "1", Origin: "https://app.test" } }, e);
      expect(failed.status).toBe(500);
      if (e === withCors) {
        for (const res of [refused, failed]) {
          expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
          expect(res.headers.get("Vary")).toBe("Origin");
        }
      }
    }
    expect(logged).toHaveBeenCalledTimes(2);
    logged.mockRestore();
  });

  it("waits for an asynchronous handler, and leaves a chain with other middleware to compose()", async () => {
    const late = await fetchOf("/v1/x/late", { headers: { "X-Let-In": "1" } });
    expect(await late.json()).toEqual({ late: true });
    const composed = fetchOf("/v1/x/composed", { headers: { "X-Let-In": "1" } });
    expect(composed).toBeInstanceOf(Promise);
    expect(await (await composed).json()).toEqual({ composed: true });
    expect((await fetchOf("/v1/x/composed")).status).toBe(401);
  });

  it("still answers misses, wrong methods and preflights as before", async () => {
    expect((await fetchOf("/nowhere")).status).toBe(404);
    const wrong = await fetchOf("/sync", { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("Allow")).toBe("GET, HEAD");
    const preflight = await fetchOf(
      "/v1/x/items/1",
      { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET" } },
      withCors,
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
  });
});

describe("fresh request ids", () => {
  it("are UUID-shaped and unique across a prefix renewal", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 70_000; i++) seen.add(freshRequestId());
    expect(seen.size).toBe(70_000);
    for (const id of [...seen].slice(-3)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });
});
