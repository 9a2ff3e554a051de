import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import { configFor, type JwtKeyConfig } from "../../src/core/config.ts";
import type { Deps } from "../../src/core/deps.ts";
import { onError } from "../../src/core/error-handler.ts";
import { createLogger } from "../../common/logger.ts";
import { createRouter } from "../../src/core/openapi.ts";
import {
  InvalidTokenError,
  issueAccessToken,
  MAX_TOKEN_LENGTH,
  verifyAccessToken,
} from "../../src/features/auth/access-token.ts";
import { optionalUser, requireRole, requireUser } from "../../src/features/auth/guards.ts";

/**
 * Access tokens: the hostile-token corpus, a fuzz over random mutations of valid tokens, proof that
 * verification does no I/O, and the asymmetric signing paths (EdDSA, ES256) with the JWKS.
 */

const config = configFor(env);
const keys = config.JWT_KEYS;
const hsKey = keys.find((k) => k.kid === "test-hs256") as Extract<JwtKeyConfig, { secret: string }>;
const edKey = keys.find((k) => k.kid === "test-ed25519") as Extract<JwtKeyConfig, { publicJwk: unknown }>;

const enc = new TextEncoder();
const b64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const part = (value: unknown): string => b64url(enc.encode(typeof value === "string" ? value : JSON.stringify(value)));
const fromB64url = (text: string): Uint8Array =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

const nowSeconds = () => Math.floor(Date.now() / 1000);
const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: crypto.randomUUID(),
  roles: ["user"],
  sid: crypto.randomUUID(),
  jti: crypto.randomUUID(),
  iss: config.JWT_ISSUER,
  aud: config.JWT_AUDIENCE,
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
  ...overrides,
});
const without = (key: string) => {
  const c = claims();
  delete c[key];
  return c;
};

async function hmac(secretBytes: Uint8Array, input: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return b64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(input))));
}

/**
 * While set, every token the signers below make is also verified (in-process and over HTTP) before
 * it is handed out, so every valid one among them (the originals the hostile cases tamper with) is
 * in the verified-token cache: the "warm" runs prove a warm cache refuses exactly what a cold one does.
 */
let warming = false;
async function warm(token: string): Promise<string> {
  if (warming) {
    await verifyAccessToken(token, config).catch(() => {});
    try {
      await (await me(`Bearer ${token}`)).arrayBuffer();
    } catch {
      // a header no client can send
    }
  }
  return token;
}

/** Signs header.payload with the test HS256 secret, whatever the header claims. */
async function signHs(header: unknown, payload: unknown, secret = fromB64url(hsKey.secret)): Promise<string> {
  const input = `${part(header)}.${part(payload)}`;
  return warm(`${input}.${await hmac(secret, input)}`);
}

async function signEd(header: unknown, payload: unknown): Promise<string> {
  // Node exports the JWK with alg "Ed25519"; WebCrypto here wants it absent or "EdDSA".
  const { alg: _alg, ...jwk } = edKey.privateJwk as unknown as JsonWebKey;
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  const input = `${part(header)}.${part(payload)}`;
  return warm(`${input}.${b64url(new Uint8Array(await crypto.subtle.sign("Ed25519", key, enc.encode(input))))}`);
}

const HS = { alg: "HS256", typ: "JWT", kid: "test-hs256" };
const ED = { alg: "EdDSA", typ: "JWT", kid: "test-ed25519" };

const me = (authorization: string) =>
  exports.default.fetch(new Request("http://edge.test/v1/auth/me", { headers: { Authorization: authorization } }));

async function expect401(res: Response, label: string): Promise<void> {
  expect(res.status, label).toBe(401);
  expect(res.headers.get("WWW-Authenticate"), label).toBe('Bearer error="invalid_token"');
  expect(res.headers.get("Content-Type"), label).toContain("application/problem+json");
  const body = await res.text();
  // The refusal never echoes the token or says why in detail (that is logged at debug only).
  expect(body, label).not.toContain(hsKey.secret);
}

/** A minimal app whose only route is behind the guards, with deps that throw on any touch. */
function ioFreeProbe(touched: string[]) {
  const deps = new Proxy({} as Deps, {
    get(_target, prop) {
      touched.push(String(prop));
      throw new Error(`verification touched deps.${String(prop)}`);
    },
  });
  const app = createRouter();
  app.use(async (c, next) => {
    c.set("requestId", "probe");
    c.set("config", config);
    c.set("log", createLogger("error"));
    c.set("deps", deps);
    c.set("principal", undefined);
    await next();
  });
  app.get("/user", requireUser(), (c) => c.json(c.var.principal ?? null));
  app.get("/admin", requireRole("admin"), (c) => c.json(c.var.principal ?? null));
  app.get("/optional", optionalUser(), (c) => c.json(c.var.principal ?? null));
  app.onError(onError);
  return app;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a valid token", () => {
  it("verifies when signed by either configured key", async () => {
    for (const token of [await signHs(HS, claims()), await signEd(ED, claims())]) {
      const principal = await verifyAccessToken(token, config);
      expect(principal.roles).toEqual(["user"]);
    }
  });

  it("is issued with kid, typ and every required claim", async () => {
    const sessionId = crypto.randomUUID();
    const { token, expiresIn } = await issueAccessToken({ userId: "u1", roles: ["user"], sessionId }, config);
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(new TextDecoder().decode(fromB64url(p))));
    expect(header).toEqual({ alg: "HS256", typ: "JWT", kid: "test-hs256" });
    expect(payload).toMatchObject({
      sub: "u1",
      roles: ["user"],
      sid: sessionId,
      iss: config.JWT_ISSUER,
      aud: config.JWT_AUDIENCE,
    });
    expect(payload.exp - payload.iat).toBe(expiresIn);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("is accepted within the clock skew and refused past it", async () => {
    const now = nowSeconds();
    await expect(verifyAccessToken(await signHs(HS, claims({ exp: now - 20 })), config)).resolves.toBeDefined();
    await expect(verifyAccessToken(await signHs(HS, claims({ exp: now - 31 })), config)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    await expect(verifyAccessToken(await signHs(HS, claims({ iat: now + 20 })), config)).resolves.toBeDefined();
    await expect(verifyAccessToken(await signHs(HS, claims({ iat: now + 31 })), config)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
  });
});

describe("the hostile-token corpus", () => {
  const wrongSecret = crypto.getRandomValues(new Uint8Array(32));
  const edPublicX = fromB64url((edKey.publicJwk as { x: string }).x);
  const cases: [string, () => Promise<string>][] = [
    [
      "alg none, no signature",
      async () => `${part({ alg: "none", typ: "JWT", kid: "test-hs256" })}.${part(claims())}.`,
    ],
    [
      "alg none with a signature",
      async () => `${part({ alg: "none", kid: "test-hs256" })}.${part(claims())}.${b64url(new Uint8Array(32))}`,
    ],
    ["alg None spelled oddly", async () => signHs({ ...HS, alg: "None" }, claims())],
    [
      "HS256 claimed for the Ed25519 key, HMAC keyed with its public key",
      async () => {
        const header = { alg: "HS256", typ: "JWT", kid: "test-ed25519" };
        return signHs(header, claims(), edPublicX);
      },
    ],
    [
      "HS256 claimed for the Ed25519 key, HMAC keyed with its public JWK text",
      async () => signHs({ alg: "HS256", kid: "test-ed25519" }, claims(), enc.encode(JSON.stringify(edKey.publicJwk))),
    ],
    ["EdDSA claimed for the HS256 key", async () => signEd({ ...ED, kid: "test-hs256" }, claims())],
    ["HS512 claimed for the HS256 key", async () => signHs({ ...HS, alg: "HS512" }, claims())],
    ["RS256 claimed", async () => signHs({ ...HS, alg: "RS256" }, claims())],
    ["unknown kid", async () => signHs({ ...HS, kid: "nope" }, claims())],
    ["path-traversal kid", async () => signHs({ ...HS, kid: "../../../../dev/null" }, claims())],
    ["SQL-injection kid", async () => signHs({ ...HS, kid: "x' UNION SELECT 'secret" }, claims())],
    ["__proto__ kid", async () => signHs({ ...HS, kid: "__proto__" }, claims())],
    ["constructor kid", async () => signHs({ ...HS, kid: "constructor" }, claims())],
    ["numeric kid", async () => signHs({ ...HS, kid: 1 }, claims())],
    ["object kid", async () => signHs({ ...HS, kid: { $ne: null } }, claims())],
    ["missing kid", async () => signHs({ alg: "HS256", typ: "JWT" }, claims())],
    [
      "tampered header",
      async () => {
        const [, payload, signature] = (await signHs(HS, claims())).split(".");
        return `${part({ ...HS, typ: "JWT", extra: 1 })}.${payload}.${signature}`;
      },
    ],
    [
      "tampered payload: roles raised to admin",
      async () => {
        const [header, , signature] = (await signHs(HS, claims())).split(".");
        return `${header}.${part(claims({ roles: ["admin"] }))}.${signature}`;
      },
    ],
    [
      "tampered signature",
      async () => {
        const token = await signHs(HS, claims());
        const i = token.length - 10;
        return token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
      },
    ],
    [
      "non-canonical base64url in the signature",
      async () => {
        const token = await signHs(HS, claims());
        // 32 bytes = 43 characters; the last one carries 2 unused bits.
        const last = token.at(-1) as string;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return token.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1];
      },
    ],
    [
      "signature swapped in from another token",
      async () => {
        const [header, payload] = (await signHs(HS, claims())).split(".");
        const signature = (await signHs(HS, claims())).split(".")[2];
        return `${header}.${payload}.${signature}`;
      },
    ],
    ["signed with the wrong secret", async () => signHs(HS, claims(), wrongSecret)],
    ["expired", async () => signHs(HS, claims({ iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }))],
    ["not yet valid (nbf)", async () => signHs(HS, claims({ nbf: nowSeconds() + 3600 }))],
    ["nbf not a number", async () => signHs(HS, claims({ nbf: "0" }))],
    ["issued in the future", async () => signHs(HS, claims({ iat: nowSeconds() + 3600 }))],
    ["wrong iss", async () => signHs(HS, claims({ iss: "someone-else" }))],
    ["wrong aud", async () => signHs(HS, claims({ aud: "another-service" }))],
    ["aud list without ours", async () => signHs(HS, claims({ aud: ["a", "b"] }))],
    ["missing exp", async () => signHs(HS, without("exp"))],
    ["missing iat", async () => signHs(HS, without("iat"))],
    ["missing iss", async () => signHs(HS, without("iss"))],
    ["missing aud", async () => signHs(HS, without("aud"))],
    ["missing sub", async () => signHs(HS, without("sub"))],
    ["missing sid", async () => signHs(HS, without("sid"))],
    ["missing jti", async () => signHs(HS, without("jti"))],
    ["missing roles", async () => signHs(HS, without("roles"))],
    ["roles not a list of strings", async () => signHs(HS, claims({ roles: [{ admin: true }] }))],
    ["exp as a string", async () => signHs(HS, claims({ exp: "99999999999" }))],
    [
      "exp overflowing to Infinity",
      async () => {
        const input = `${part(HS)}.${part(JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400'))}`;
        return `${input}.${await hmac(fromB64url(hsKey.secret), input)}`;
      },
    ],
    ["bad base64 in every part", async () => "@@@.###.$$$"],
    [
      "padding characters",
      async () => {
        const [h, p, s] = (await signHs(HS, claims())).split(".");
        return `${h}==.${p}.${s}`;
      },
    ],
    [
      "header not JSON",
      async () => {
        const input = `${part("not json")}.${part(claims())}`;
        return `${input}.${await hmac(fromB64url(hsKey.secret), input)}`;
      },
    ],
    [
      "payload not JSON",
      async () => {
        const input = `${part(HS)}.${part("{sub:")}`;
        return `${input}.${await hmac(fromB64url(hsKey.secret), input)}`;
      },
    ],
    ["payload JSON null", async () => signHs(HS, null)],
    ["payload JSON array", async () => signHs(HS, [claims()])],
    ["header JSON array", async () => signHs([HS], claims())],
    [
      "payload not UTF-8",
      async () => {
        const input = `${part(HS)}.${b64url(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))}`;
        return `${input}.${await hmac(fromB64url(hsKey.secret), input)}`;
      },
    ],
    [
      "duplicate alg keys ending in none",
      async () => {
        const input = `${part('{"alg":"HS256","kid":"test-hs256","alg":"none"}')}.${part(claims())}`;
        return `${input}.${await hmac(fromB64url(hsKey.secret), input)}`;
      },
    ],
    ["huge token", async () => `${part(HS)}.${part(claims({ pad: "x".repeat(MAX_TOKEN_LENGTH) }))}.${"A".repeat(43)}`],
    ["huge but well-signed token", async () => signHs(HS, claims({ pad: "x".repeat(MAX_TOKEN_LENGTH) }))],
    ["four segments", async () => `${await signHs(HS, claims())}.${part("x")}`],
    [
      "five segments (JWE shape)",
      async () => `${part({ alg: "dir", enc: "A256GCM", kid: "test-hs256" })}.AAAA.AAAA.AAAA.AAAA`,
    ],
    ["two segments", async () => (await signHs(HS, claims())).split(".").slice(0, 2).join(".")],
    ["empty segments", async () => ".."],
    ["unknown crit header", async () => signHs({ ...HS, crit: ["exp-extension"], "exp-extension": true }, claims())],
    ["crit naming a known header", async () => signHs({ ...HS, crit: ["kid"] }, claims())],
    ["embedded jwk", async () => signHs({ ...HS, jwk: { kty: "oct", k: b64url(wrongSecret) } }, claims())],
    ["jku", async () => signHs({ ...HS, jku: "https://attacker.example/jwks.json" }, claims())],
    ["x5u", async () => signHs({ ...HS, x5u: "https://attacker.example/cert.pem" }, claims())],
    ["x5c", async () => signHs({ ...HS, x5c: ["MIIB"] }, claims())],
    ["typ not JWT", async () => signHs({ ...HS, typ: "at+jwt" }, claims())],
    ["Ed25519 signature of all zeros", async () => `${part(ED)}.${part(claims())}.${b64url(new Uint8Array(64))}`],
  ];

  for (const cache of ["cold", "warm"] as const) {
    for (const [label, make] of cases) {
      it(`refuses ${label} with 401 (${cache} verified-token cache)`, async () => {
        warming = cache === "warm";
        let token: string;
        try {
          token = await make();
        } finally {
          warming = false;
        }
        // Cold: a config of its own, so nothing was ever cached for it.
        const verifier = cache === "warm" ? config : configFor({ ...env });
        await expect(verifyAccessToken(token, verifier)).rejects.toBeInstanceOf(InvalidTokenError);
        await expect401(await me(`Bearer ${token}`), label);
      });
    }
  }

  it("refuses every odd spelling of the Bearer scheme with 401", async () => {
    const token = await signHs(HS, claims());
    const spellings = [
      `Bearer: ${token}`,
      `Bearer${token}`,
      `Bearer\t${token}`,
      `Bearer ${token} extra`,
      `Bearer "${token}"`,
      `Bearer ${token}, Bearer ${token}`,
      `Bearer\u00a0${token}`,
      `Token ${token}`,
      `JWT ${token}`,
      `Basic ${btoa(`user:${token}`)}`,
      "Bearer",
      "Bearer ",
      token,
      "",
    ];
    for (const authorization of spellings)
      await expect401(await me(authorization), JSON.stringify(authorization.slice(0, 12)));
  });

  it("accepts the scheme in any letter case, as RFC 7235 requires", async () => {
    // A real account: /me reads it after verifying.
    const reg = await exports.default.fetch(
      new Request("http://edge.test/v1/auth/register", {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": "10.200.0.1" },
        body: JSON.stringify({ email: `case-${crypto.randomUUID()}@example.test`, password: "correct horse battery" }),
      }),
    );
    const { accessToken } = (await reg.json()) as { accessToken: string };
    for (const scheme of ["Bearer", "bearer", "BEARER"])
      expect((await me(`${scheme} ${accessToken}`)).status).toBe(200);
  });
});

describe("random mutations of valid tokens (fuzz, seeded)", () => {
  // mulberry32: a small deterministic PRNG so a failure replays exactly.
  const prng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const NOISE = `${B64URL}.=+/ %"{}\u00e9\u0000`;

  /** Structured mutations need a decodable part; on an already-broken token they fall back to a flip. */
  function mutate(token: string, random: () => number): string {
    try {
      return mutateOnce(token, random);
    } catch {
      return mutateOnce(token, () => 0.99);
    }
  }

  function mutateOnce(token: string, random: () => number): string {
    const pick = <T = string>(items: readonly T[] | string): T => items[Math.floor(random() * items.length)] as T;
    if (token === "") return pick(B64URL);
    const at = () => Math.floor(random() * token.length);
    const parts = token.split(".");
    switch (Math.floor(random() * 9)) {
      case 0: {
        const i = at();
        return token.slice(0, i) + pick(B64URL) + token.slice(i + 1);
      }
      case 1: {
        const i = at();
        return token.slice(0, i) + token.slice(i + 1);
      }
      case 2: {
        const i = at();
        return token.slice(0, i) + pick(NOISE) + token.slice(i);
      }
      case 3:
        return token.slice(0, at());
      case 4: {
        const [a, b] = [Math.floor(random() * 3), Math.floor(random() * 3)];
        const copy = [...parts];
        [copy[a], copy[b]] = [parts[b] as string, parts[a] as string];
        return copy.join(".");
      }
      case 5:
        return [...parts, pick(parts)].join(".");
      case 6: {
        // Re-encode the payload with one claim changed, keeping the old signature.
        const payload = JSON.parse(new TextDecoder().decode(fromB64url(parts[1] as string))) as Record<string, unknown>;
        const key = pick(Object.keys(payload));
        payload[key] = pick([null, 0, "", "admin", ["admin"], nowSeconds() + 99999, {}]);
        return `${parts[0]}.${part(payload)}.${parts[2]}`;
      }
      case 7: {
        const header = JSON.parse(new TextDecoder().decode(fromB64url(parts[0] as string))) as Record<string, unknown>;
        header[pick(["alg", "kid", "typ", "crit", "jku"])] = pick([
          "none",
          "HS256",
          "EdDSA",
          "ES256",
          "test-hs256",
          "test-ed25519",
          7,
          ["x"],
        ]);
        return `${part(header)}.${parts[1]}.${parts[2]}`;
      }
      default: {
        const i = at();
        const ch = token[i] as string;
        const flipped = ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
        return token.slice(0, i) + flipped + token.slice(i + 1);
      }
    }
  }

  for (const cache of ["cold", "warm"] as const) {
    it(`answers 300 mutated tokens with 401 every time, never 500 (${cache} cache)`, async () => {
      const random = prng(0x5eed);
      warming = cache === "warm";
      const originals = [await signHs(HS, claims()), await signEd(ED, claims())];
      warming = false;
      const statuses = new Map<number, number>();
      let tried = 0;
      while (tried < 300) {
        const original = originals[tried % 2] as string;
        let mutated = mutate(original, random);
        if (random() < 0.3) mutated = mutate(mutated, random);
        if (mutated === original) continue;
        await expect(verifyAccessToken(mutated, config), mutated).rejects.toBeInstanceOf(InvalidTokenError);
        let request: Request;
        try {
          request = new Request("http://edge.test/v1/auth/me", { headers: { Authorization: `Bearer ${mutated}` } });
        } catch {
          continue; // e.g. a NUL byte: no client can send this header at all
        }
        tried++;
        const res = await exports.default.fetch(request);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await res.arrayBuffer();
      }
      expect(Object.fromEntries(statuses)).toEqual({ 401: 300 });
    });

    it(`refuses 3,000 more mutations in-process with InvalidTokenError only (${cache} cache)`, async () => {
      const random = prng(0xc0ffee);
      const verifier = cache === "warm" ? config : configFor({ ...env });
      const originals = [await signHs(HS, claims()), await signEd(ED, claims())];
      if (cache === "warm") for (const original of originals) await verifyAccessToken(original, verifier);
      for (let i = 0; i < 3000; i++) {
        const original = originals[i % 2] as string;
        const mutated = mutate(mutate(original, random), random);
        if (mutated === original) continue;
        const outcome = await verifyAccessToken(mutated, verifier).then(
          () => "accepted",
          (error: unknown) => (error instanceof InvalidTokenError ? "refused" : `threw ${String(error)}`),
        );
        expect(outcome, mutated).toBe("refused");
      }
      // The originals still verify: mutations evicted nothing they should not have.
      for (const original of originals) await expect(verifyAccessToken(original, verifier)).resolves.toBeDefined();
    });
  }
});

describe("the verified-token cache", () => {
  const verifyCalls = () => vi.spyOn(crypto.subtle, "verify");

  it("answers a repeated token without a signature check, and only that exact token", async () => {
    const verifier = configFor({ ...env });
    const token = await signHs(HS, claims());
    const spy = verifyCalls();
    const first = await verifyAccessToken(token, verifier);
    expect(spy).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) expect(await verifyAccessToken(token, verifier)).toBe(first);
    expect(spy).toHaveBeenCalledTimes(1);
    // A different spelling of the same claims is a different key: verified in full (and refused).
    await expect(verifyAccessToken(`${token}A`, verifier)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(Object.isFrozen(first) && Object.isFrozen(first.roles)).toBe(true);
  });

  it("lets an entry go at the token's exp, then checks in full (skew, then refusal)", async () => {
    const verifier = configFor({ ...env });
    const now = nowSeconds();
    const token = await signHs(HS, claims({ iat: now, exp: now + 60 }));
    const spy = verifyCalls();
    await verifyAccessToken(token, verifier, now * 1000);
    await verifyAccessToken(token, verifier, (now + 59) * 1000);
    expect(spy).toHaveBeenCalledTimes(1);
    // At exp the entry is gone; the full check still grants the 30 s skew.
    await verifyAccessToken(token, verifier, (now + 60) * 1000);
    expect(spy).toHaveBeenCalledTimes(2);
    await expect(verifyAccessToken(token, verifier, (now + 91) * 1000)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("does not serve a cached token to an earlier clock that would refuse it", async () => {
    const verifier = configFor({ ...env });
    const now = nowSeconds();
    const token = await signHs(HS, claims({ iat: now, nbf: now + 100, exp: now + 600 }));
    await verifyAccessToken(token, verifier, (now + 100) * 1000);
    await expect(verifyAccessToken(token, verifier, now * 1000)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("never caches a refused token: a refusal is repeated with a full check each time", async () => {
    const verifier = configFor({ ...env });
    const token = await signHs(HS, claims({ roles: "admin" }));
    const spy = verifyCalls();
    for (let i = 0; i < 3; i++)
      await expect(verifyAccessToken(token, verifier)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it("follows key rotation the same cold and warm: a removed key's tokens are refused under the new key set", async () => {
    const before = configFor({ ...env });
    const edToken = await signEd(ED, claims());
    const hsToken = await signHs(HS, claims());
    for (const token of [edToken, hsToken]) await verifyAccessToken(token, before); // warm under the old keys
    const rotated = configFor({ ...env, JWT_KEYS: JSON.stringify([hsKey]), JWT_SIGNING_KID: "test-hs256" });
    for (const round of ["cold", "warm"]) {
      await expect(verifyAccessToken(edToken, rotated), round).rejects.toBeInstanceOf(InvalidTokenError);
      await expect(verifyAccessToken(hsToken, rotated), round).resolves.toBeDefined();
    }
    // The old deployment's config (and its cache) is untouched by the other's.
    await expect(verifyAccessToken(edToken, before)).resolves.toBeDefined();
  });

  it("stays within its bound, dropping the least recently used entry first", async () => {
    const { VerifiedTokenCache } = await import("../../src/features/auth/verified-token-cache.ts");
    const cache = new VerifiedTokenCache(3);
    const principal = { userId: "u", roles: [], sessionId: "s", tokenId: "j", expiresAt: nowSeconds() + 60 };
    const now = Date.now();
    for (const t of ["a", "b", "c"]) cache.set(t, principal, 0, now);
    expect(cache.get("a", now)).toBe(principal); // a is now the most recently used
    cache.set("d", principal, 0, now);
    expect(cache.size).toBe(3);
    expect(cache.get("b", now)).toBeUndefined();
    expect(["a", "c", "d"].every((t) => cache.get(t, now) === principal)).toBe(true);
  });
});

describe("verification is pure computation", () => {
  it("verifies on guarded routes with deps that throw on any touch and no fetch or socket", async () => {
    const touched: string[] = [];
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const socketSpy = vi.spyOn(globalThis, "WebSocket");
    const app = ioFreeProbe(touched);
    const user = await signEd(ED, claims());
    const admin = await signHs(HS, claims({ roles: ["admin"] }));

    const ok = await app.request("/user", { headers: { Authorization: `Bearer ${user}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ roles: ["user"] });
    expect((await app.request("/admin", { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
    expect((await app.request("/admin", { headers: { Authorization: `Bearer ${user}` } })).status).toBe(403);
    expect((await app.request("/optional")).status).toBe(200);
    expect((await app.request("/optional", { headers: { Authorization: `Bearer ${user}` } })).status).toBe(200);
    expect((await app.request("/user", { headers: { Authorization: `Bearer ${user}x` } })).status).toBe(401);

    expect(touched).toEqual([]);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(socketSpy).not.toHaveBeenCalled();
  });

  it("imports each key once and reuses the CryptoKey for later verifications", async () => {
    const fresh = configFor({ ...env }); // a new config object: a cold key cache
    const token = await signHs(HS, claims());
    const importSpy = vi.spyOn(crypto.subtle, "importKey");
    await verifyAccessToken(token, fresh);
    const afterFirst = importSpy.mock.calls.length;
    expect(afterFirst).toBe(fresh.JWT_KEYS.length);
    for (let i = 0; i < 20; i++) await verifyAccessToken(await signEd(ED, claims()), fresh);
    // signEd imports its own signing key each time; verification adds none.
    expect(importSpy.mock.calls.length).toBe(afterFirst + 20);
  });
});

describe("asymmetric signing keys", () => {
  type AsymmetricKey = Extract<JwtKeyConfig, { publicJwk: unknown }>;

  async function es256Key(kid: string): Promise<AsymmetricKey> {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const exported = async (key: CryptoKey) =>
      (await crypto.subtle.exportKey("jwk", key)) as unknown as Record<string, unknown>;
    return {
      kid,
      alg: "ES256",
      privateJwk: await exported(pair.privateKey),
      publicJwk: await exported(pair.publicKey),
    };
  }

  async function callWith(overrides: Record<string, string>, path: string, init?: RequestInit): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await createApp().fetch(new Request(`http://edge.test${path}`, init), { ...env, ...overrides }, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  const registerBody = () => ({
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "CF-Connecting-IP": `10.201.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    },
    body: JSON.stringify({ email: `asym-${crypto.randomUUID()}@example.test`, password: "correct horse battery" }),
  });

  it("signs with the Ed25519 key when JWT_SIGNING_KID names it; others verify it through the JWKS", async () => {
    const overrides = { JWT_SIGNING_KID: "test-ed25519" };
    const res = await callWith(overrides, "/v1/auth/register", registerBody());
    expect(res.status).toBe(201);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const header = JSON.parse(new TextDecoder().decode(fromB64url(accessToken.split(".")[0] as string)));
    expect(header).toEqual({ alg: "EdDSA", typ: "JWT", kid: "test-ed25519" });
    expect(
      (await callWith(overrides, "/v1/auth/me", { headers: { Authorization: `Bearer ${accessToken}` } })).status,
    ).toBe(200);
    // Rotation: an instance still signing with HS256 verifies it too (every listed key verifies).
    expect((await me(`Bearer ${accessToken}`)).status).toBe(200);

    // Another service verifies independently with jose and only the published JWKS.
    const jwks = (await (
      await exports.default.fetch(new Request("http://edge.test/.well-known/jwks.json"))
    ).json()) as {
      keys: JsonWebKey[];
    };
    const verified = await jwtVerify(accessToken, createLocalJWKSet(jwks as never), {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      algorithms: ["EdDSA"],
    });
    expect(verified.payload.sub).toBeTypeOf("string");
  });

  it("signs and verifies with an ES256 key, and refuses its all-zero signature (CVE-2022-21449)", async () => {
    const es = await es256Key("test-es256");
    const overrides = { JWT_KEYS: JSON.stringify([...keys, es]), JWT_SIGNING_KID: "test-es256" };
    const res = await callWith(overrides, "/v1/auth/register", registerBody());
    expect(res.status).toBe(201);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const [header, payload] = accessToken.split(".");
    expect(JSON.parse(new TextDecoder().decode(fromB64url(header as string)))).toMatchObject({
      alg: "ES256",
      kid: "test-es256",
    });
    expect(
      (await callWith(overrides, "/v1/auth/me", { headers: { Authorization: `Bearer ${accessToken}` } })).status,
    ).toBe(200);

    const zero = `${header}.${payload}.${b64url(new Uint8Array(64))}`;
    const refused = await callWith(overrides, "/v1/auth/me", { headers: { Authorization: `Bearer ${zero}` } });
    await expect401(refused, "all-zero ES256");
    // And HS256 claimed for the ES256 key, HMAC keyed with its public x coordinate.
    const confused = await signHs(
      { alg: "HS256", kid: "test-es256" },
      claims(),
      fromB64url((es.publicJwk as { x: string }).x),
    );
    await expect401(
      await callWith(overrides, "/v1/auth/me", { headers: { Authorization: `Bearer ${confused}` } }),
      "ES256 confusion",
    );

    const jwks = (await (await callWith(overrides, "/.well-known/jwks.json")).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(["test-ed25519", "test-es256"]);
    expect(jwks.keys.every((k) => !("d" in k))).toBe(true);
  });
});
