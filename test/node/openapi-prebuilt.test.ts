// The Worker serves /openapi.json from src/features/docs/openapi.prebuilt.json (its bundle has no
// OpenAPI generator: scripts/bundle/zod-openapi.ts); Node, Deno and Bun generate it at run time.
// These prove the two are one document, so the prebuilt file cannot go stale unnoticed.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generateDocument, PREBUILT_PATH, prebuiltText } from "../../scripts/openapi-build.ts";
import { documentConfig } from "../../src/features/docs/routes.ts";

describe("prebuilt OpenAPI document", () => {
  it("is what the route definitions generate now (run `npm run openapi:build` if not)", async () => {
    expect(await readFile(PREBUILT_PATH, "utf8")).toBe(prebuiltText());
  });

  it("makes, after the per-request fields, the same bytes the runtime generator serves", async () => {
    const prebuilt = JSON.parse(await readFile(PREBUILT_PATH, "utf8")) as Record<string, unknown>;
    for (const origin of ["http://edge.test", "https://api.example.com:8443"]) {
      const served = JSON.stringify({ ...documentConfig(origin), ...prebuilt });
      expect(served).toBe(JSON.stringify(generateDocument(origin)));
    }
  });

  it("holds only what the routes decide, never a request's origin", async () => {
    const text = await readFile(PREBUILT_PATH, "utf8");
    expect(Object.keys(JSON.parse(text))).toEqual(["components", "paths", "webhooks"]);
    expect(text).not.toContain("prebuilt.invalid");
  });
});
