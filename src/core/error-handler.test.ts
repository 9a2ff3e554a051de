import { DrizzleQueryError } from "drizzle-orm/errors";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AppEnv } from "./app-env.ts";
import { onError } from "./error-handler.ts";
import { createLogger } from "../../common/logger.ts";

function appThrowing(error: unknown) {
  const app = new Hono<AppEnv>();
  app.get("/", () => {
    throw error;
  });
  app.onError(onError);
  return app;
}

const queryError = (cause: unknown) =>
  new DrizzleQueryError("select * from users where password_hash = $1", ["secret-hash-value"], cause as Error);

describe("the error handler", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers an unreachable database with 503 and Retry-After, logging no query parameter", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await appThrowing(queryError(new Error("Network connection lost."))).request("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBeTruthy();
    const text = await res.text();
    expect(text).not.toContain("secret-hash-value");
    expect(JSON.stringify(logged.mock.calls)).not.toContain("secret-hash-value");
    expect(JSON.stringify(logged.mock.calls)).not.toContain("password_hash");
  });

  it("answers a Postgres server error with a plain 500 that names no SQL", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const serverError = Object.assign(new Error('relation "x" does not exist'), { code: "42P01" });
    const res = await appThrowing(queryError(serverError)).request("/");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("relation");
    expect(text).not.toContain("select");
    expect(JSON.stringify(logged.mock.calls)).toContain("42P01");
    expect(JSON.stringify(logged.mock.calls)).not.toContain("secret-hash-value");
  });

  it("never sends an unexpected error's message", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await appThrowing(new Error("token=abc123 leaked")).request("/");
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("abc123");
  });
});

describe("the logger", () => {
  afterEach(() => vi.restoreAllMocks());

  it("logs a failed query's SQL but not its parameters", () => {
    const logged = vi.spyOn(console, "warn").mockImplementation(() => {});
    createLogger("info").warn("query failed", { error: queryError(new Error("boom")) });
    const line = JSON.stringify(logged.mock.calls);
    expect(line).toContain("password_hash");
    expect(line).not.toContain("secret-hash-value");
  });
});
