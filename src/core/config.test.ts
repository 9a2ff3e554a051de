import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, configFor, parseConfig } from "./config.ts";

const valid = () => ({ ...(env as unknown as Record<string, unknown>) });

describe("configuration", () => {
  it("parses the test environment with defaults filled in", () => {
    const config = parseConfig(valid());
    expect(config.ACCESS_TOKEN_TTL_SECONDS).toBeGreaterThan(0);
    expect(config.S3_PUBLIC_BASE_URL.endsWith("/")).toBe(false);
    expect(config.JWT_KEYS.length).toBeGreaterThan(0);
  });

  it("names a missing key and says how to set it", () => {
    const broken = valid();
    delete broken.DATABASE_URL;
    expect(() => parseConfig(broken)).toThrowError(ConfigError);
    try {
      parseConfig(broken);
    } catch (error) {
      expect((error as ConfigError).keys).toContain("DATABASE_URL");
      expect((error as Error).message).toMatch(/DATABASE_URL .*Postgres URL/);
      expect((error as Error).message).toMatch(/wrangler secret put/);
    }
  });

  it("names a malformed key without echoing its value", () => {
    const secretLooking = "mysql://user:hunter2@db.example/app";
    const error = (() => {
      try {
        parseConfig({ ...valid(), DATABASE_URL: secretLooking, JWT_KEYS: "{not json" });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(error.keys).toEqual(expect.arrayContaining(["DATABASE_URL", "JWT_KEYS"]));
    expect(error.message).not.toContain("hunter2");
    expect(error.message).toMatch(/JWT_KEYS .*not valid JSON/);
  });

  it("requires both Upstash values or neither", () => {
    const half = valid();
    delete half.UPSTASH_REDIS_REST_TOKEN;
    expect(() => parseConfig(half)).toThrowError(/UPSTASH_REDIS_REST_TOKEN/);
    const none = valid();
    delete none.UPSTASH_REDIS_REST_TOKEN;
    delete none.UPSTASH_REDIS_REST_URL;
    expect(parseConfig(none).UPSTASH_REDIS_REST_URL).toBeUndefined();
  });

  it("refuses a short HMAC secret and a signing kid that names no key", () => {
    expect(() =>
      parseConfig({ ...valid(), JWT_KEYS: JSON.stringify([{ kid: "a", alg: "HS256", secret: "short" }]) }),
    ).toThrowError(/JWT_KEYS/);
    expect(() => parseConfig({ ...valid(), JWT_SIGNING_KID: "nope" })).toThrowError(/JWT_SIGNING_KID names no key/);
  });

  it("defaults SETTINGS_LOCAL_TTL_MS to 1000, takes 0 as off, and names a bad value", () => {
    const unset = valid();
    delete unset.SETTINGS_LOCAL_TTL_MS;
    expect(parseConfig(unset).SETTINGS_LOCAL_TTL_MS).toBe(1000);
    expect(parseConfig({ ...valid(), SETTINGS_LOCAL_TTL_MS: "0" }).SETTINGS_LOCAL_TTL_MS).toBe(0);
    expect(() => parseConfig({ ...valid(), SETTINGS_LOCAL_TTL_MS: "-1" })).toThrowError(/SETTINGS_LOCAL_TTL_MS/);
    expect(() => parseConfig({ ...valid(), SETTINGS_LOCAL_TTL_MS: "soon" })).toThrowError(/SETTINGS_LOCAL_TTL_MS/);
  });

  it("checks an env object once and remembers the verdict", () => {
    const e = valid();
    expect(configFor(e)).toBe(configFor(e));
    const bad = { ...valid(), S3_BUCKET: undefined };
    expect(() => configFor(bad)).toThrowError(ConfigError);
    expect(() => configFor(bad)).toThrowError(ConfigError);
  });

  it("requires MAIL_FROM with MAIL_API_KEY, and defaults the mail API to Resend's", () => {
    const { MAIL_API_URL: _url, MAIL_FROM: _from, MAIL_API_KEY: _key, ...rest } = valid();
    expect(parseConfig(rest).MAIL_API_URL).toBe("https://api.resend.com");
    try {
      parseConfig({ ...rest, MAIL_API_KEY: "re_123" });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect((error as ConfigError).keys).toContain("MAIL_FROM");
      expect((error as Error).message).not.toContain("re_123");
    }
  });

  it("checks AUTH_EXTERNAL_ISSUERS: JSON list, https JWKS (http only locally), no issuer twice", () => {
    const issuer = {
      issuer: "https://tenant.example.com/",
      jwksUri: "https://tenant.example.com/jwks.json",
      audience: "api",
    };
    const parsed = parseConfig({ ...valid(), AUTH_EXTERNAL_ISSUERS: JSON.stringify([issuer]) });
    expect(parsed.AUTH_EXTERNAL_ISSUERS).toEqual([issuer]);
    for (const bad of [
      "not json",
      JSON.stringify([{ ...issuer, jwksUri: "http://tenant.example.com/jwks.json" }]),
      JSON.stringify([issuer, issuer]),
      JSON.stringify([{ ...issuer, audience: undefined }]),
      JSON.stringify([{ ...issuer, issuer: parsed.JWT_ISSUER }]),
    ]) {
      expect(() => parseConfig({ ...valid(), AUTH_EXTERNAL_ISSUERS: bad })).toThrowError(/AUTH_EXTERNAL_ISSUERS/);
    }
  });
});
