// Per-request cost of verifying an access token, per algorithm: hono/jwt (what the service uses)
// against jose, both handed the same imported CryptoKey, so the difference is each library's own
// parsing and checking around the same WebCrypto call. The service's full verifyAccessToken (kid
// lookup, header rules, claim checks, then hono/jwt) is measured against jose too.
// Runs in Node (the harness): inside workerd, timers only advance on I/O, so a tight CPU loop cannot
// time itself there. Node and workerd both implement WebCrypto over BoringSSL/OpenSSL in C++; the
// absolute µs differ by runtime, the library overhead ratio is what this shows.
import { randomUUID } from "node:crypto";
import { sign, verify } from "hono/jwt";
import type { SignatureAlgorithm } from "hono/utils/jwt/jwa";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { jwtVerify } from "jose";
import { configFor } from "../../src/core/config.ts";
import { verifyAccessToken } from "../../src/features/auth/access-token.ts";
import { keySetFor } from "../../src/features/auth/key-set.ts";
import type { Suite } from "../lib/context.ts";
import { makeRow, type Row } from "../lib/report.ts";

const GROUP = "Auth";

/**
 * µs per call of each function, measured in interleaved slices (A, B, C, A, B, C, ...) of `batch`
 * calls, so that drift from other load on the machine hits every library alike. Bounded by time
 * (about `durationMs` in all) and by count.
 */
async function interleaved(fns: Array<() => Promise<unknown>>, durationMs: number, batch = 20): Promise<number[]> {
  const spent = fns.map(() => 0);
  const ops = fns.map(() => 0);
  const started = performance.now();
  for (let slice = 0; slice < 100_000 && performance.now() - started < durationMs; slice++) {
    for (let f = 0; f < fns.length; f++) {
      const fn = fns[f] as () => Promise<unknown>;
      const t = performance.now();
      for (let i = 0; i < batch; i++) await fn();
      spent[f] = (spent[f] as number) + performance.now() - t;
      ops[f] = (ops[f] as number) + batch;
    }
  }
  return spent.map((ms, f) => (ms * 1000) / (ops[f] as number));
}

export const tokenVerifySuite: Suite = {
  name: "tokens",
  async run(ctx) {
    const config = configFor(ctx.workerVars);
    const keySet = await keySetFor(config);
    const rows: Row[] = [];
    const now = Math.floor(Date.now() / 1000);
    for (const keyConfig of config.JWT_KEYS) {
      const alg = keyConfig.alg as SignatureAlgorithm;
      const verification = keySet.byKid.get(keyConfig.kid);
      if (!verification) continue;
      const signingJwk = (
        "secret" in keyConfig
          ? { kty: "oct", k: keyConfig.secret, alg, kid: keyConfig.kid }
          : { ...keyConfig.privateJwk, alg, kid: keyConfig.kid }
      ) as HonoJsonWebKey;
      const token = await sign(
        { sub: randomUUID(), sid: randomUUID(), jti: randomUUID(), roles: ["user"], iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, iat: now, exp: now + 600 },
        signingJwk,
        alg,
      );
      const viaHono = () => verify(token, verification.key, { alg, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE });
      const viaJose = () => jwtVerify(token, verification.key, { algorithms: [alg], issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
      const viaService = () => verifyAccessToken(token, config);
      // All three must accept the token, or the timings would measure a failure path.
      await Promise.all([viaHono(), viaJose(), viaService()]);
      const d = ctx.profile.tokens.durationMs;
      await interleaved([viaHono, viaJose, viaService], d / 4);
      const hono: number[] = [];
      const jose: number[] = [];
      const service: number[] = [];
      for (let r = 0; r < ctx.profile.rounds; r++) {
        const [h, j, s] = await interleaved(r % 2 === 0 ? [viaHono, viaJose, viaService] : [viaJose, viaHono, viaService], d);
        hono.push(r % 2 === 0 ? (h as number) : (j as number));
        jose.push(r % 2 === 0 ? (j as number) : (h as number));
        service.push(s as number);
      }
      const benchmark = `verify ${alg} token`;
      const common = { group: GROUP, benchmark, metric: "time per verification", unit: "µs", better: "lower" as const };
      rows.push(
        makeRow({ ...common, sides: ["hono/jwt", "jose"], a: hono, b: jose }),
        makeRow({ ...common, sides: ["verifyAccessToken (hono/jwt + claim checks)", "jose"], a: service, b: jose }),
      );
      ctx.extra[benchmark] = { hono, jose, verifyAccessToken: service };
      ctx.log(`  ${alg}: hono ${hono.map((v) => v.toFixed(1)).join("/")} µs, jose ${jose.map((v) => v.toFixed(1)).join("/")} µs, service ${service.map((v) => v.toFixed(1)).join("/")} µs`);
    }
    return rows;
  },
};
