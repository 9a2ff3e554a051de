import { afterEach, describe, expect, it, vi } from "vitest";
import {
  burnPasswordCheck,
  CURRENT_SCRYPT_PARAMS,
  hashPassword,
  PASSWORD_MAX_BYTES,
  passwordPolicyProblem,
  SCRYPT_MAX_MEMORY_BYTES,
  scryptMemoryBytes,
  verifyPassword,
} from "./password.ts";

/** WebCrypto PBKDF2's production cap; local workerd does not enforce it, so this test does. */
const WORKERS_PBKDF2_MAX_ITERATIONS = 100_000;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("password hashing", () => {
  it("stores a PHC string with today's parameters and a fresh salt", async () => {
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
  });

  it("agrees with RFC 7914's scrypt test vector, so hashes made in Node (the seed script) verify here", async () => {
    // scrypt("pleaseletmein", "SodiumChloride", N=2^14, r=8, p=1): the first 32 of the RFC's 64 bytes.
    const vector = "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI";
    expect(await verifyPassword("pleaseletmein", vector)).toEqual({ ok: true, needsRehash: true });
    expect((await verifyPassword("pleaseletmeout", vector)).ok).toBe(false);
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(await verifyPassword("correct horse battery", stored)).toEqual({ ok: true, needsRehash: false });
    expect((await verifyPassword("correct horse batterY", stored)).ok).toBe(false);
    expect((await verifyPassword("", stored)).ok).toBe(false);
  });

  it("matches the same password typed in another Unicode form (NFKC)", async () => {
    const stored = await hashPassword("\uFB01nancial caf\u00e9"); // "ﬁ" ligature, precomposed é
    expect((await verifyPassword("financial cafe\u0301", stored)).ok).toBe(true);
  });

  it("asks for a rehash when the stored parameters differ from today's", async () => {
    const old = await hashPassword("correct horse battery", { logN: 12, r: 8, p: 1 });
    expect(old).toContain("$ln=12,r=8,p=1$");
    expect(await verifyPassword("correct horse battery", old)).toEqual({ ok: true, needsRehash: true });
  });

  it("never matches a malformed or out-of-bounds stored hash, and does not throw", async () => {
    const good = await hashPassword("correct horse battery");
    for (const stored of [
      "",
      "!not-loginable",
      good.replace("ln=14", "ln=30"),
      good.replace("r=8", "r=99"),
      good.slice(0, -5),
      `${good}x`,
    ]) {
      expect((await verifyPassword("correct horse battery", stored)).ok).toBe(false);
    }
  });

  it("refuses parameters that would not fit a Worker's memory", async () => {
    await expect(hashPassword("correct horse battery", { logN: 16, r: 8, p: 1 })).rejects.toThrow(RangeError);
    await expect(hashPassword("correct horse battery", { logN: 9, r: 8, p: 1 })).rejects.toThrow(RangeError);
    expect(scryptMemoryBytes(CURRENT_SCRYPT_PARAMS)).toBeLessThanOrEqual(SCRYPT_MAX_MEMORY_BYTES);
  });

  it("never asks WebCrypto PBKDF2 for more iterations than production Workers allow", async () => {
    const iterations: number[] = [];
    const record = (algorithm: unknown) => {
      const a = algorithm as { name?: string; iterations?: number };
      if (typeof a === "object" && a?.name?.toUpperCase() === "PBKDF2") iterations.push(a.iterations ?? 0);
    };
    const deriveBits = crypto.subtle.deriveBits.bind(crypto.subtle);
    const deriveKey = crypto.subtle.deriveKey.bind(crypto.subtle);
    vi.spyOn(crypto.subtle, "deriveBits").mockImplementation((algorithm, ...rest) => {
      record(algorithm);
      return deriveBits(algorithm, ...rest);
    });
    vi.spyOn(crypto.subtle, "deriveKey").mockImplementation((algorithm, ...rest) => {
      record(algorithm);
      return deriveKey(algorithm, ...rest);
    });
    const stored = await hashPassword("correct horse battery");
    await verifyPassword("correct horse battery", stored);
    await burnPasswordCheck("correct horse battery");
    expect(iterations.filter((n) => n > WORKERS_PBKDF2_MAX_ITERATIONS)).toEqual([]);
  });

  it("spends about the same time on an unknown account as on a real check, within the CPU budget", async () => {
    const stored = await hashPassword("correct horse battery");
    // workerd's clock only moves across I/O, so each measurement is fenced by a timer.
    const tick = () => new Promise((r) => setTimeout(r, 0));
    const timed = async (work: () => Promise<unknown>, runs = 4) => {
      await tick();
      const started = Date.now();
      for (let i = 0; i < runs; i++) await work();
      await tick();
      return (Date.now() - started) / runs;
    };
    const real = await timed(() => verifyPassword("wrong password!", stored));
    const burn = await timed(() => burnPasswordCheck("wrong password!"));
    console.log(
      `scrypt ln=14,r=8,p=5 in workerd: verify ${real.toFixed(0)} ms, unknown-account burn ${burn.toFixed(0)} ms`,
    );
    expect(real).toBeLessThan(2_000);
    // Same parameters, same work: generous bounds because the test box is shared.
    expect(burn / real).toBeGreaterThan(0.5);
    expect(burn / real).toBeLessThan(2);
  });
});

describe("password policy", () => {
  it("counts characters for the minimum and UTF-8 bytes for the maximum", () => {
    expect(passwordPolicyProblem("1234567")).toMatch(/at least 8/);
    expect(passwordPolicyProblem("12345678")).toBeNull();
    expect(passwordPolicyProblem("😀".repeat(8))).toBeNull();
    expect(passwordPolicyProblem("😀".repeat(7))).toMatch(/at least 8/);
    expect(passwordPolicyProblem("a".repeat(PASSWORD_MAX_BYTES))).toBeNull();
    expect(passwordPolicyProblem("a".repeat(PASSWORD_MAX_BYTES + 1))).toMatch(/at most 256 bytes/);
    expect(passwordPolicyProblem("é".repeat(129))).toMatch(/at most 256 bytes/);
  });

  it("refuses to hash more than the byte limit, so a long password cannot buy CPU", async () => {
    await expect(hashPassword("a".repeat(PASSWORD_MAX_BYTES + 1))).rejects.toThrow(RangeError);
    const stored = await hashPassword("a".repeat(PASSWORD_MAX_BYTES));
    expect((await verifyPassword("a".repeat(PASSWORD_MAX_BYTES + 1), stored)).ok).toBe(false);
  });
});
