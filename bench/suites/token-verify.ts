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
 * CPU µs per call of each function, measured in interleaved slices (A, B, C, A, B, C, ...) of `batch`
 * calls so that drift hits every library alike. CPU time (process.cpuUsage: every thread, including
 * the thread pool where Node runs WebCrypto jobs) rather than wall time, because on a shared machine
 * the wall clock also counts the time other processes had the core. Bounded by time and by count.
 */
async function interleaved(
  fns: Array<() => Promise<unknown>>,
  durationMs: number,
  batch = 20,
): Promise<{ cpuUs: number[]; wallUs: number[] }> {
  const cpu = fns.map(() => 0);
  const wall = fns.map(() => 0);
  const ops = fns.map(() => 0);
  const started = performance.now();
  for (let slice = 0; slice < 100_000 && performance.now() - started < durationMs; slice++) {
    for (let f = 0; f < fns.length; f++) {
      const fn = fns[f] as () => Promise<unknown>;
      const t = performance.now();
      const c = process.cpuUsage();
      for (let i = 0; i < batch; i++) await fn();
      const used = process.cpuUsage(c);
      cpu[f] = (cpu[f] as number) + used.user + used.system;
      wall[f] = (wall[f] as number) + (performance.now() - t) * 1000;
      ops[f] = (ops[f] as number) + batch;
    }
  }
  return { cpuUs: cpu.map((us, f) => us / (ops[f] as number)), wallUs: wall.map((us, f) => us / (ops[f] as number)) };
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
        {
          sub: randomUUID(),
          sid: randomUUID(),
          jti: randomUUID(),
          roles: ["user"],
          iss: config.JWT_ISSUER,
          aud: config.JWT_AUDIENCE,
          iat: now,
          exp: now + 600,
        },
        signingJwk,
        alg,
      );
      const viaHono = () => verify(token, verification.key, { alg, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE });
      const viaJose = () =>
        jwtVerify(token, verification.key, {
          algorithms: [alg],
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
        });
      const viaService = () => verifyAccessToken(token, config);
      // All three must accept the token, or the timings would measure a failure path.
      await Promise.all([viaHono(), viaJose(), viaService()]);
      const d = ctx.profile.tokens.durationMs;
      await interleaved([viaHono, viaJose, viaService], d / 4);
      const hono: number[] = [];
      const jose: number[] = [];
      const service: number[] = [];
      const wall: Array<{ hono: number; jose: number; service: number }> = [];
      for (let r = 0; r < ctx.profile.rounds; r++) {
        // Which library goes first in a slice alternates by round.
        const honoFirst = r % 2 === 0;
        const { cpuUs, wallUs } = await interleaved(
          honoFirst ? [viaHono, viaJose, viaService] : [viaJose, viaHono, viaService],
          d,
        );
        const [h, j] = honoFirst ? [0, 1] : [1, 0];
        hono.push(cpuUs[h] as number);
        jose.push(cpuUs[j] as number);
        service.push(cpuUs[2] as number);
        wall.push({ hono: wallUs[h] as number, jose: wallUs[j] as number, service: wallUs[2] as number });
      }
      const benchmark = `verify ${alg} token`;
      const common = {
        group: GROUP,
        benchmark,
        metric: "CPU time per verification",
        unit: "µs",
        better: "lower" as const,
      };
      rows.push(
        makeRow({ ...common, sides: ["hono/jwt", "jose"], a: hono, b: jose }),
        makeRow({ ...common, sides: ["verifyAccessToken (hono/jwt + claim checks)", "jose"], a: service, b: jose }),
      );
      ctx.extra[benchmark] = { cpuUs: { hono, jose, verifyAccessToken: service }, wallUs: wall };
      ctx.log(
        `  ${alg}: hono ${hono.map((v) => v.toFixed(1)).join("/")} µs, jose ${jose.map((v) => v.toFixed(1)).join("/")} µs, service ${service.map((v) => v.toFixed(1)).join("/")} µs`,
      );
    }
    return rows;
  },
};
