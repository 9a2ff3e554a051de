// On workerd the app runs the bundle's @hono/zod-openapi (scripts/bundle/zod-openapi.ts): no
// generator and no document in the bundle, the prebuilt template read through the ASSETS binding.
// test/node/openapi-prebuilt.test.ts proves that file is what the routes generate; this proves the
// Worker serves it as the generator would have, and that the template is not itself served.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { documentConfig } from "./routes.ts";

const assets = (env as unknown as { ASSETS: Fetcher }).ASSETS;
const TEMPLATE = "/_templates/openapi-routes.json";

describe("/openapi.json on the Worker", () => {
  it("answers requests arriving together with the same document (the first of the isolate: each reads the template)", async () => {
    const texts = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await exports.default.fetch(new Request("http://edge.test/openapi.json"));
        expect(res.status).toBe(200);
        return res.text();
      }),
    );
    expect(new Set(texts).size).toBe(1);
    expect(JSON.parse(texts[0]!).servers).toEqual([{ url: "http://edge.test" }]);
  });

  it("is the prebuilt template after the request's own fields, byte for byte", async () => {
    const file = await assets.fetch(`http://edge.test${TEMPLATE}`);
    expect(file.status, "public/_templates/ is missing: npm run bundle:build (npm test runs it first)").toBe(200);
    const prebuilt = (await file.json()) as Record<string, unknown>;
    expect(Object.keys(prebuilt)).toEqual(["components", "paths", "webhooks"]);
    for (const origin of ["http://edge.test", "https://api.example.com:8443", "http://edge.test"]) {
      const res = await exports.default.fetch(new Request(`${origin}/openapi.json`));
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(await res.text()).toBe(JSON.stringify({ ...documentConfig(origin), ...prebuilt }));
    }
  });

  it("does not serve the template at its own path: the Worker has no route there", async () => {
    const res = await exports.default.fetch(new Request(`http://edge.test${TEMPLATE}`));
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
    expect(await res.text()).not.toContain('"paths"');
  });
});
