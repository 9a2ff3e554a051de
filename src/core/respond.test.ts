import { describe, expect, it } from "vitest";
import {
  framedApp,
  probeBindings as bindings,
  probeCtx as ctx,
  probeBindingsWithCors as withCors,
} from "../../test/workers/support/frame.ts";
import type { Bindings } from "./app-env.ts";
import { respond, respondJson } from "./respond.ts";

/** Every way a route answers: a record-built answer, c.json, a raw Response, an immutable one, a 304. */
const probeApp = () =>
  framedApp((app) => {
    app.get("/hot", (c) => respondJson(c, { hot: true }, 200, { "cache-control": "no-store", vary: "Authorization" }));
    app.get("/v1/x/hot-late", async (c) => {
      await Promise.resolve();
      return respondJson(c, { late: true }, 200, { "cache-control": "no-store" });
    });
    app.get("/not-modified", (c) => respond(c, null, 304, { etag: '"7"' }));
    app.get("/json", (c) => c.json({ json: true }, 200, { "Cache-Control": "no-store" }));
    app.get("/raw", () => new Response("raw", { headers: { "content-type": "text/plain" } }));
    app.get("/immutable", () => Response.redirect("http://edge.test/json", 302));
  });

describe("the request id on every answer", () => {
  const app = probeApp();
  const fetchOf = async (path: string, headers: Record<string, string> = {}, e: Bindings = bindings) =>
    app.fetch(new Request(`http://edge.test${path}`, { headers }), e, ctx);

  it("puts the caller's id and the given headers on an answer built from a record", async () => {
    const res = await fetchOf("/hot", { "X-Request-Id": "caller-1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toBe("caller-1");
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Vary")).toBe("Authorization");
    expect(await res.json()).toEqual({ hot: true });
  });

  it("does the same when the answer comes after an await", async () => {
    const res = await fetchOf("/v1/x/hot-late", { "X-Request-Id": "caller-2" });
    expect(res.headers.get("X-Request-Id")).toBe("caller-2");
    expect(await res.json()).toEqual({ late: true });
  });

  it("answers a 304 with no body, its validator and the id", async () => {
    const res = await fetchOf("/not-modified", { "X-Request-Id": "caller-3" });
    expect(res.status).toBe(304);
    expect(res.headers.get("ETag")).toBe('"7"');
    expect(res.headers.get("X-Request-Id")).toBe("caller-3");
    expect(await res.text()).toBe("");
  });

  it("stamps the id on c.json answers, raw Responses and responses whose headers cannot change", async () => {
    for (const path of ["/json", "/raw", "/immutable"]) {
      const res = await fetchOf(path, { "X-Request-Id": `caller-${path.slice(1)}` });
      expect(res.headers.get("X-Request-Id"), path).toBe(`caller-${path.slice(1)}`);
    }
    const moved = await fetchOf("/immutable");
    expect(moved.status).toBe(302);
    expect(moved.headers.get("Location")).toBe("http://edge.test/json");
  });

  it("stamps a fresh id when the caller sent none, and on problems and misses too", async () => {
    const res = await fetchOf("/json");
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const missing = await fetchOf("/nowhere", { "X-Request-Id": "caller-miss" });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("X-Request-Id")).toBe("caller-miss");
  });

  it("keeps CORS and the id together on a record-built answer and on a preflight", async () => {
    const res = await fetchOf("/hot", { Origin: "https://app.test", "X-Request-Id": "caller-cors" }, withCors);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
    expect(res.headers.get("Vary")).toBe("Authorization, Origin");
    expect(res.headers.get("X-Request-Id")).toBe("caller-cors");
    const preflight = await app.fetch(
      new Request("http://edge.test/hot", {
        method: "OPTIONS",
        headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET", "X-Request-Id": "caller-pre" },
      }),
      withCors,
      ctx,
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("X-Request-Id")).toBe("caller-pre");
  });
});
