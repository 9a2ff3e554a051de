// The console and the docs page's script are Workers Static Assets (wrangler.toml [assets],
// built into public/ by scripts/console-build.ts), which the platform serves before the Worker
// runs. The test harness's exports.default.fetch reaches only the Worker, so the asset layer is
// asked through its binding: the same files, the same html_handling, as in production.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const assets = (env as unknown as { ASSETS: Fetcher }).ASSETS;
const asset = (path: string) => assets.fetch(`http://edge.test${path}`, { redirect: "manual" });

describe("the console as Workers Static Assets", () => {
  it("serves the console's page and bundle from the assets directory", async () => {
    const page = await asset("/console/");
    expect(page.status, "public/console/ is missing: npm run console:build (npm test runs it first)").toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('src="./app.js"');
    const bundle = await asset("/console/app.js");
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("Content-Type")).toMatch(/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(1000);
  });

  it("redirects /console to /console/ (html_handling = auto-trailing-slash)", async () => {
    const res = await asset("/console");
    expect(res.status).toBe(307);
    expect(res.headers.get("Location")).toMatch(/\/console\/$/);
  });

  it("has no file for an API path, which the Worker then answers: /docs is its page over its own script", async () => {
    expect((await asset("/docs")).status).toBe(404);
    const docs = await exports.default.fetch(new Request("http://edge.test/docs"));
    expect(docs.status).toBe(200);
    const html = await docs.text();
    expect(html).toContain('src="/console/docs.js"');
    // Nothing from another host: no CDN script, font or style.
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect((await asset("/console/docs.js")).status).toBe(200);
  });
});
