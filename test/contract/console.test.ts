// The console's static files and the docs page, on every runtime (test/contract/run.ts runs this
// against the Worker under `wrangler dev`, where Workers Static Assets serves public/, and against
// Deno, Bun and Node, where runtimes/static-assets.ts does). `npm run test:contract` builds them first.
import { describe, expect, it } from "vitest";

const BASE = process.env.CONTRACT_BASE_URL ?? "";
const RUNTIME = process.env.CONTRACT_RUNTIME ?? "unknown";
const get = (path: string, init: RequestInit = {}) =>
  fetch(`${BASE}${path}`, { ...init, redirect: "manual", signal: AbortSignal.timeout(15_000) });

describe(`the console and /docs on ${RUNTIME}`, () => {
  it("redirects /console to /console/ and serves its page, script and styles", async () => {
    const bare = await get("/console");
    expect(bare.status).toBe(307);
    expect(new URL(bare.headers.get("Location") ?? "", BASE).pathname).toBe("/console/");
    const page = await get("/console/");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('src="./app.js"');
    for (const [path, type] of [
      ["/console/app.js", /javascript/],
      ["/console/docs.js", /javascript/],
      ["/console/console.css", /^text\/css/],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toMatch(type);
      expect((await res.arrayBuffer()).byteLength, path).toBeGreaterThan(100);
    }
  });

  it("leaves every other path to the app: an unknown console file and a traversal are 404s", async () => {
    expect((await get("/console/missing.js")).status).toBe(404);
    expect((await get("/console/..%2f..%2fpackage.json")).status).toBe(404);
    const docs = await get("/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('src="/console/docs.js"');
  });
});
