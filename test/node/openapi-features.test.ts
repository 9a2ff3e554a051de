// Each feature router's own OpenAPI document, generated in Node by the real @hono/zod-openapi (the
// Worker bundle has none: it serves the prebuilt template, test/node/openapi-prebuilt.test.ts).
// Built per router, so another feature's route cannot mask a missing one here.
import { describe, expect, it } from "vitest";
import { createRouter } from "../../src/core/openapi.ts";
import { authRoutes, keySetRoutes } from "../../src/features/auth/routes.ts";
import { userRoleRoutes } from "../../src/features/auth/users-routes.ts";
import { settingsRoutes } from "../../src/features/settings/routes.ts";

describe("feature routes in the OpenAPI document", () => {
  it("describes every auth route", () => {
    const auth = createRouter()
      .route("/v1/auth", authRoutes)
      .route("/v1/users", userRoleRoutes)
      .route("/.well-known", keySetRoutes);
    const doc = auth.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "auth", version: "test" },
    }) as unknown as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const path of ["register", "login", "refresh", "logout", "logout-all", "me"]) {
      expect(doc.paths).toHaveProperty(`/v1/auth/${path}`);
    }
    expect(doc.paths["/v1/users/{id}/roles"]).toHaveProperty("put");
    expect(doc.paths["/.well-known/jwks.json"]).toHaveProperty("get");
  });

  it("lists every settings route with its conditional headers and the write body's schema field", () => {
    const doc = createRouter()
      .route("/v1/settings", settingsRoutes)
      .getOpenAPI31Document({ openapi: "3.1.0", info: { title: "settings", version: "1" } });
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining(["/v1/settings", "/v1/settings/{key}", "/v1/settings/{key}/history"]),
    );
    const byKey = doc.paths?.["/v1/settings/{key}"] as Record<string, { parameters?: { name: string }[] }>;
    expect(Object.keys(byKey).sort()).toEqual(["delete", "get", "put"]);
    expect(byKey.put?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(["if-match", "if-none-match"]));
    const write = doc.components?.schemas?.SettingWrite as { properties?: Record<string, unknown> };
    expect(Object.keys(write.properties ?? {})).toEqual(["value", "visibility", "schema"]);
  });
});
