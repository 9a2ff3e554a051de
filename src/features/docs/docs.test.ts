// On workerd the app runs the bundle's @hono/zod-openapi (scripts/bundle/zod-openapi.ts): no
// generator, the prebuilt document. test/node/openapi-prebuilt.test.ts proves that file is what
// the routes generate; this proves the Worker serves it as the generator would have.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import prebuilt from "./openapi.prebuilt.json";
import { documentConfig } from "./routes.ts";

describe("/openapi.json on the Worker", () => {
  it("is the prebuilt document after the request's own fields, byte for byte", async () => {
    for (const origin of ["http://edge.test", "https://api.example.com:8443"]) {
      const res = await exports.default.fetch(new Request(`${origin}/openapi.json`));
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(await res.text()).toBe(JSON.stringify({ ...documentConfig(origin), ...prebuilt }));
    }
  });
});
