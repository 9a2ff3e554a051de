import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveStaticAsset } from "./static-assets.ts";

let root: string;
const serve = (path: string, method = "GET") => serveStaticAsset(new Request(`http://x.test${path}`, { method }), root);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "static-assets-"));
  await mkdir(join(root, "console"));
  await writeFile(join(root, "console/index.html"), "<!doctype html><p>console");
  await writeFile(join(root, "console/app.js"), "export {};");
  await writeFile(join(root, "secret.txt"), "outside the console prefix");
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("static assets on Node, Deno and Bun", () => {
  it("serves files under /console with their type, index.html for the folder, and HEAD without a body", async () => {
    const js = await serve("/console/app.js");
    expect(js?.status).toBe(200);
    expect(js?.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(await js?.text()).toBe("export {};");
    const index = await serve("/console/");
    expect(await index?.text()).toContain("console");
    const head = await serve("/console/app.js", "HEAD");
    expect(head?.headers.get("Content-Length")).toBe("10");
    expect(await head?.text()).toBe("");
  });

  it("redirects the folder without its slash, as the platform's auto-trailing-slash does", async () => {
    const res = await serve("/console?x=1");
    expect(res?.status).toBe(307);
    expect(res?.headers.get("Location")).toBe("/console/?x=1");
  });

  it("hands everything else to the app: other prefixes, missing files, writes, traversal", async () => {
    expect(await serve("/secret.txt")).toBeNull();
    expect(await serve("/v1/settings")).toBeNull();
    expect(await serve("/console/missing.js")).toBeNull();
    expect(await serve("/console/app.js", "POST")).toBeNull();
    expect(await serve("/console/..%2fsecret.txt")).toBeNull();
    expect(await serve("/console/%2e%2e/secret.txt")).toBeNull();
    expect(await serve("/console/%E0%A4%A")).toBeNull();
  });
});
