// The Worker serves /openapi.json from public/_templates/openapi-routes.json, a Workers Static Asset
// it reads through the ASSETS binding (its bundle has no OpenAPI generator nor the document:
// scripts/bundle/zod-openapi.ts); Node, Deno and Bun generate it at run time. The build prelude
// (scripts/bundle-build.ts) writes the file; these prove the two are one document.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generateDocument, PREBUILT_PATH, prebuiltText, TEMPLATE_ASSET } from "../../scripts/openapi-build.ts";
import { documentConfig } from "../../src/features/docs/routes.ts";

describe("prebuilt OpenAPI document", () => {
  it("is what the route definitions generate now (run `npm run bundle:build` if not)", async () => {
    expect(await readFile(PREBUILT_PATH, "utf8")).toBe(prebuiltText());
    expect(PREBUILT_PATH.endsWith(`/public${TEMPLATE_ASSET}`)).toBe(true);
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
