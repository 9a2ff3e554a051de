import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { ConfigError, parseConfig } from "../../src/core/config.ts";

const app = createApp();
const base = env as unknown as Record<string, unknown>;
// One env object per configuration, as a Worker has: its config is parsed once.
const configured = { ...base, CORS_ORIGINS: "https://app.example.com, https://*.example.com,http://localhost:*" };
const withCredentials = { ...configured, CORS_ALLOW_CREDENTIALS: "true" };
const unconfigured = { ...base, CORS_ORIGINS: "" };

async function call(path: string, init: RequestInit, bindings: Record<string, unknown> = configured) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, init), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const preflight = (path: string, origin: string, method = "POST") =>
  call(path, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": method,
      "Access-Control-Request-Headers": "authorization",
    },
  });

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));

describe("CORS", () => {
  it("answers a preflight from a listed origin on an authenticated route", async () => {
    const res = await preflight("/v1/auth/me", "https://app.example.com", "GET");
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("PUT");
    const allowed = (res.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
    for (const h of ["authorization", "content-type", "if-match", "if-none-match"]) expect(allowed).toContain(h);
    expect(res.headers.get("Vary")).toContain("Origin");
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    expect(Number(res.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers preflights before the 405 and 404 answers: on a POST-only route and on no route at all", async () => {
    const onPostOnly = await preflight("/v1/auth/login", "http://localhost:5173");
    expect(onPostOnly.status).toBe(204);
    expect(onPostOnly.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:5173");
    const nowhere = await preflight("/no/such/route", "http://localhost:5173", "DELETE");
    expect(nowhere.status).toBe(204);
    expect(nowhere.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:5173");
  });

  it("puts the origin, the exposed headers and Vary on real answers, problems included", async () => {
    const ok = await call("/healthz", { headers: { Origin: "https://eu.shop.example.com" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://eu.shop.example.com");
    const exposed = (ok.headers.get("Access-Control-Expose-Headers") ?? "").split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["ETag", "X-Request-Id", "Retry-After", "Location"]));
    expect(ok.headers.get("Vary")).toContain("Origin");

    const problem = await call("/v1/auth/me", { headers: { Origin: "https://app.example.com" } });
    expect(problem.status).toBe(401);
    expect(problem.headers.get("Content-Type")).toContain("application/problem+json");
    expect(problem.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    const notAllowed = await call("/v1/auth/login", { method: "GET", headers: { Origin: "https://app.example.com" } });
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
  });

  it("gives an origin that matches no pattern no CORS header at all", async () => {
    for (const origin of [
      "https://example.com", // the bare domain is not a subdomain
      "https://evil-example.com",
      "https://app.example.com.evil.test",
      "http://app.example.com", // wrong scheme
      "http://localhost.evil.test:5173",
      "null",
    ]) {
      const pre = await preflight("/v1/auth/me", origin, "GET");
      expect(pre.status, origin).toBe(204);
      expect(corsHeaders(pre), origin).toEqual([]);
      const res = await call("/healthz", { headers: { Origin: origin } });
      expect(corsHeaders(res), origin).toEqual([]);
      expect(res.headers.get("Vary")).toContain("Origin");
    }
  });

  it("allows credentials only when configured", async () => {
    const res = await call("/healthz", { headers: { Origin: "https://app.example.com" } }, withCredentials);
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
  });

  it("does nothing when CORS_ORIGINS is unset: OPTIONS is a 405 as before", async () => {
    const res = await call(
      "/v1/auth/login",
      { method: "OPTIONS", headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "POST" } },
      unconfigured,
    );
    expect(res.status).toBe(405);
    expect(corsHeaders(res)).toEqual([]);
  });
});

describe("CORS configuration", () => {
  const parse = (vars: Record<string, string>) => parseConfig({ ...base, ...vars });

  it("accepts a comma list or a JSON array and normalizes default ports and case", () => {
    const list = parse({ CORS_ORIGINS: "HTTPS://App.Example.com:443 , http://localhost:*" }).CORS_ORIGINS ?? [];
    expect(list.map((p) => p.pattern)).toEqual(["https://app.example.com", "http://localhost:*"]);
    expect(list[0]?.matches("https://app.example.com")).toBe(true);
    expect(list[1]?.matches("http://localhost")).toBe(true);
    expect(list[1]?.matches("http://localhost:8080")).toBe(true);
    const json = parse({ CORS_ORIGINS: '["https://*.example.com", "http://[::1]:3000"]' }).CORS_ORIGINS ?? [];
    expect(json.map((p) => p.pattern)).toEqual(["https://*.example.com", "http://[::1]:3000"]);
  });

  it("names the key and the fix for a malformed pattern", () => {
    for (const bad of [
      "https://app.example.com/",
      "app.example.com",
      "ftp://x.example.com",
      "https://a.*.example.com",
    ]) {
      const error = (() => {
        try {
          parse({ CORS_ORIGINS: bad });
        } catch (e) {
          return e as ConfigError;
        }
        throw new Error(`expected ${bad} to be refused`);
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.keys).toContain("CORS_ORIGINS");
      expect(error.message).toMatch(/CORS_ORIGINS .*scheme:\/\/host\[:port\]/);
    }
    expect(() => parse({ CORS_ORIGINS: "[1, 2]" })).toThrowError(/CORS_ORIGINS is not a JSON array of strings/);
  });

  it("refuses credentials for every origin", () => {
    expect(() => parse({ CORS_ORIGINS: "*", CORS_ALLOW_CREDENTIALS: "true" })).toThrowError(
      /CORS_ALLOW_CREDENTIALS cannot be true while CORS_ORIGINS allows every origin/,
    );
    expect(parse({ CORS_ORIGINS: "*" }).CORS_ORIGINS?.[0]?.matches("https://anything.test")).toBe(true);
  });
});
