import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import type { ExternalIssuerConfig } from "../../src/core/config.ts";
import { ProblemError } from "../../src/core/problem.ts";
import { users } from "../../src/db/schema.ts";
import { InvalidTokenError } from "../../src/features/auth/access-token.ts";
import { externalUuid, REFETCH_INTERVAL_MS, verifyExternalToken } from "../../src/features/auth/external-issuers.ts";
import { call, withTestDatabase } from "./support/auth.ts";
import { join, uniqueRoom } from "./support/rooms.ts";

interface TestIssuer {
  issuer: string;
  audience: string;
  kid: string;
  rolesClaim: string;
  jwksBase: string;
  privateJwk: JsonWebKey;
}

/** The outside issuer test/global-setup.ts configured in AUTH_EXTERNAL_ISSUERS, with its private key. */
const main = JSON.parse((env as unknown as { TEST_EXTERNAL_ISSUER: string }).TEST_EXTERNAL_ISSUER) as TestIssuer;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function signWith(privateJwk: JsonWebKey, kid: string, claims: Record<string, unknown>): Promise<string> {
  return sign({ iat: nowSeconds(), exp: nowSeconds() + 300, ...claims }, {
    ...(privateJwk as unknown as Record<string, unknown>),
    kid,
    alg: "ES256",
  } as never);
}

const mainToken = (claims: Record<string, unknown> = {}) =>
  signWith(main.privateJwk, main.kid, { iss: main.issuer, aud: main.audience, sub: "auth0|ada", ...claims });

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function newKeyPair(): Promise<{ privateJwk: JsonWebKey; publicJwk: JsonWebKey }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return {
    privateJwk: (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey,
    publicJwk: (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey,
  };
}

describe("access tokens from an external issuer", () => {
  it("accepts an ES256 token on ordinary routes, maps the subject to a stable id and creates its account once", async () => {
    const sub = `auth0|${crypto.randomUUID()}`;
    const token = await mainToken({ sub, "https://edge.test/roles": ["user"], email_verified: true });
    const res = await call("/v1/auth/me", { headers: bearer(token) });
    expect(res.status).toBe(200);
    const me = (await res.json()) as { id: string; email: string };
    expect(me.id).toBe(await externalUuid("user", main.issuer, sub));
    expect(me.email).toBe(`${me.id}@external.invalid`);
    const rows = await withTestDatabase((db) => db.select().from(users).where(eq(users.id, me.id)));
    expect(rows).toMatchObject([{ externalIssuer: main.issuer, externalSubject: sub }]);
    // The same identity again: the same account, no second row.
    expect((await call("/v1/auth/me", { headers: bearer(await mainToken({ sub })) })).status).toBe(200);
  });

  it("opens a realtime socket (the WebSocket upgrade accepts external tokens too)", async () => {
    const sub = `ws-${crypto.randomUUID()}`;
    const token = await mainToken({ sub, "https://edge.test/roles": ["user"] });
    const userId = await externalUuid("user", main.issuer, sub);
    const socket = await join(uniqueRoom("external"), { userId, sessionId: "unused", roles: ["user"], token });
    socket.send({ type: "publish", data: "hi", id: "m1" });
    expect(await socket.next("ack")).toMatchObject({ id: "m1" });
    socket.close();
  });

  it("maps roles from the configured claim", async () => {
    const admin = await mainToken({ sub: `admin-${crypto.randomUUID()}`, "https://edge.test/roles": ["admin"] });
    expect((await call("/v1/users?limit=1", { headers: bearer(admin) })).status).toBe(200);
    const plain = await mainToken({ sub: `plain-${crypto.randomUUID()}`, "https://edge.test/roles": ["user"] });
    expect((await call("/v1/users?limit=1", { headers: bearer(plain) })).status).toBe(403);
    const none = await mainToken({ sub: `none-${crypto.randomUUID()}` });
    expect((await call("/v1/users?limit=1", { headers: bearer(none) })).status).toBe(403);
  });

  it("refuses a wrong audience, alg none, HS256, a missing or past exp, no sub, and a tampered payload with 401", async () => {
    const header = (h: Record<string, unknown>) => b64url(JSON.stringify(h));
    const payload = b64url(
      JSON.stringify({ iss: main.issuer, aud: main.audience, sub: "x", exp: nowSeconds() + 300, iat: nowSeconds() }),
    );
    const good = await mainToken();
    const [goodHeader, , goodSignature] = good.split(".");
    const bad: Record<string, string> = {
      "wrong audience": await mainToken({ aud: "someone-else" }),
      "alg none, no signature": `${header({ alg: "none", kid: main.kid })}.${payload}.`,
      "alg none with a signature": `${header({ alg: "none", kid: main.kid })}.${payload}.${goodSignature}`,
      "HS256 keyed with the public x": await sign(
        { iss: main.issuer, aud: main.audience, sub: "x", exp: nowSeconds() + 300 },
        { kty: "oct", k: (main.privateJwk as { x: string }).x, kid: main.kid, alg: "HS256" } as never,
      ),
      "no exp": await mainToken({ exp: undefined }),
      expired: await mainToken({ exp: nowSeconds() - 120 }),
      "no sub": await mainToken({ sub: undefined }),
      "tampered payload": `${goodHeader}.${payload}.${goodSignature}`,
      "unknown issuer": await signWith(main.privateJwk, main.kid, {
        iss: "https://evil.test",
        aud: main.audience,
        sub: "x",
      }),
    };
    for (const [name, token] of Object.entries(bad)) {
      const res = await call("/v1/auth/me", { headers: bearer(token) });
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    }
    expect((await call("/v1/auth/me", { headers: bearer(good) })).status).toBe(200);
  });
});

describe("the JWKS cache", () => {
  /** A fresh issuer on the JWKS stand-in, so this test's fetch count is its own. */
  async function freshIssuer(
    keys: Record<string, JsonWebKey>,
  ): Promise<{ config: ExternalIssuerConfig; name: string }> {
    const name = `count-${crypto.randomUUID().slice(0, 8)}`;
    await publish(name, keys);
    return {
      name,
      config: {
        issuer: `https://issuer.edge.test/${name}`,
        jwksUri: `${main.jwksBase}/${name}/jwks.json`,
        audience: "api",
      },
    };
  }
  async function publish(name: string, keys: Record<string, JsonWebKey>): Promise<void> {
    const body = { keys: Object.entries(keys).map(([kid, jwk]) => ({ ...jwk, kid, alg: "ES256", use: "sig" })) };
    const res = await fetch(`${main.jwksBase}/${name}/jwks.json`, { method: "PUT", body: JSON.stringify(body) });
    expect(res.status).toBe(204);
  }
  const hits = async (name: string) =>
    ((await (await fetch(`${main.jwksBase}/${name}/hits`)).json()) as { hits: number }).hits;

  it("fetches at most twice for 30 unknown kids, and picks up a rotated key once the minute has passed", async () => {
    const k0 = await newKeyPair();
    const { config, name } = await freshIssuer({ k0: k0.publicJwk });
    const claims = { iss: config.issuer, aud: "api", sub: "s" };
    const t0 = Date.now();

    const accepted = await verifyExternalToken(await signWith(k0.privateJwk, "k0", claims), config, t0);
    expect(accepted.externalIssuer).toBe(config.issuer);

    const stranger = await newKeyPair();
    const unknown = await Promise.all(
      Array.from({ length: 30 }, (_, i) => signWith(stranger.privateJwk, `made-up-${i}`, claims)),
    );
    const results = await Promise.all(unknown.map((t) => verifyExternalToken(t, config, t0 + 1_000).catch((e) => e)));
    for (const r of results) expect(r).toBeInstanceOf(InvalidTokenError);
    expect(await hits(name)).toBeLessThanOrEqual(2);
    expect(await hits(name)).toBe(1);

    // The issuer rotates in k1. A minute after the last fetch, an unknown kid may refetch once.
    const k1 = await newKeyPair();
    await publish(name, { k0: k0.publicJwk, k1: k1.publicJwk });
    const later = t0 + REFETCH_INTERVAL_MS + 1_000;
    const rotated = await verifyExternalToken(await signWith(k1.privateJwk, "k1", claims), config, later);
    expect(rotated.userId).toBe(accepted.userId);
    expect(await hits(name)).toBe(2);
    const again = await Promise.all(unknown.map((t) => verifyExternalToken(t, config, later + 1_000).catch((e) => e)));
    for (const r of again) expect(r).toBeInstanceOf(InvalidTokenError);
    expect(await hits(name)).toBe(2);
  });

  it("verifies RS256 and EdDSA keys (alg inferred from kty when the JWK has none) and at+jwt tokens; never an oct key", async () => {
    const rsa = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const ed = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NTY3ODkw";
    const name = `algs-${crypto.randomUUID().slice(0, 8)}`;
    const publicOf = async (key: CryptoKey) => {
      const {
        alg: _alg,
        key_ops: _ops,
        ext: _ext,
        ...jwk
      } = (await crypto.subtle.exportKey("jwk", key)) as unknown as Record<string, unknown>;
      return jwk;
    };
    const body = {
      keys: [
        { ...(await publicOf(rsa.publicKey)), kid: "rsa" },
        { ...(await publicOf(ed.publicKey)), kid: "ed" },
        { kty: "oct", k: secret, kid: "oct", alg: "HS256" },
      ],
    };
    expect(
      (await fetch(`${main.jwksBase}/${name}/jwks.json`, { method: "PUT", body: JSON.stringify(body) })).status,
    ).toBe(204);
    const config: ExternalIssuerConfig = {
      issuer: `https://issuer.edge.test/${name}`,
      jwksUri: `${main.jwksBase}/${name}/jwks.json`,
      audience: ["api", "other"],
    };
    const claims = { iss: config.issuer, aud: "api", sub: "s", iat: nowSeconds(), exp: nowSeconds() + 60 };
    const jwkOf = async (key: CryptoKey, kid: string, alg: string) => ({
      ...((await crypto.subtle.exportKey("jwk", key)) as unknown as Record<string, unknown>),
      kid,
      alg,
    });
    const rs = await sign(claims, (await jwkOf(rsa.privateKey, "rsa", "RS256")) as never);
    const eddsa = await sign(claims, (await jwkOf(ed.privateKey, "ed", "EdDSA")) as never);
    expect((await verifyExternalToken(rs, config)).externalIssuer).toBe(config.issuer);
    expect((await verifyExternalToken(eddsa, config)).externalIssuer).toBe(config.issuer);

    // RFC 9068's typ for access tokens is fine; a made-up typ is not.
    const [, payload, signature] = eddsa.split(".");
    const retyped = (typ: string) =>
      `${b64url(JSON.stringify({ alg: "EdDSA", kid: "ed", typ }))}.${payload}.${signature}`;
    // The signature covers the header, so only the typ check can be tested this way: both fail, for different reasons.
    await expect(verifyExternalToken(retyped("at+jwt"), config)).rejects.toThrow("JwtTokenSignatureMismatched");
    await expect(verifyExternalToken(retyped("weird"), config)).rejects.toThrow("unexpected typ");

    const hs = await sign(claims, { kty: "oct", k: secret, kid: "oct", alg: "HS256" } as never);
    await expect(verifyExternalToken(hs, config)).rejects.toBeInstanceOf(InvalidTokenError);
    // An RSA-signed token claiming the Ed25519 key's kid: the key's algorithm is pinned.
    const swapped = await sign(claims, (await jwkOf(rsa.privateKey, "ed", "RS256")) as never);
    await expect(verifyExternalToken(swapped, config)).rejects.toThrow("alg does not match the key");
  });

  it("answers 503, not 401, when the issuer's JWKS cannot be fetched and no keys are cached", async () => {
    const k0 = await newKeyPair();
    const config: ExternalIssuerConfig = {
      issuer: "https://down.edge.test",
      jwksUri: "http://127.0.0.1:9/jwks.json",
      audience: "api",
    };
    const token = await signWith(k0.privateJwk, "k0", { iss: config.issuer, aud: "api", sub: "s" });
    const error = await verifyExternalToken(token, config).catch((e) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).status).toBe(503);
  });
});
