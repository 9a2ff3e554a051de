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
import { type Suite, alternate } from "../lib/context.ts";
import { makeRow, type Row } from "../lib/report.ts";

const GROUP = "Auth";

/** Average µs per call of `fn` over about `durationMs` (whole batches of `batch` calls). */
async function timePerOp(fn: () => Promise<unknown>, durationMs: number, batch = 50): Promise<number> {
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  // Bounded by time and by count: at most 2 million calls whatever the clock says.
  while (elapsed < durationMs && ops < 2_000_000) {
    for (let i = 0; i < batch; i++) await fn();
    ops += batch;
    elapsed = performance.now() - started;
  }
  return (elapsed * 1000) / ops;
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
      for (const fn of [viaHono, viaJose, viaService]) await timePerOp(fn, d / 4);

      const raw = await alternate(ctx, ctx.profile.rounds, () => timePerOp(viaHono, d), () => timePerOp(viaJose, d));
      rows.push(
        makeRow({ group: GROUP, benchmark: `verify ${alg} token`, sides: ["hono/jwt", "jose"], metric: "time per verification", unit: "µs", better: "lower", a: raw.a, b: raw.b }),
      );
      const full = await alternate(ctx, ctx.profile.rounds, () => timePerOp(viaService, d), () => timePerOp(viaJose, d));
      rows.push(
        makeRow({
          group: GROUP,
          benchmark: `verify ${alg} token`,
          sides: ["verifyAccessToken (hono/jwt + claim checks)", "jose"],
          metric: "time per verification",
          unit: "µs",
          better: "lower",
          a: full.a,
          b: full.b,
        }),
      );
      ctx.log(`  ${alg}: hono ${raw.a.map((v) => v.toFixed(1)).join("/")} µs, jose ${raw.b.map((v) => v.toFixed(1)).join("/")} µs`);
    }
    return rows;
  },
};
