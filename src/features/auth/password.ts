/**
 * Password hashing with scrypt from node:crypto (native code in workerd under `nodejs_compat`, and in
 * Node, so scripts/seed-admin.ts writes hashes the Worker verifies). Why scrypt and these parameters:
 * docs/auth.md ("Password hashing"). Stored as a PHC string carrying its parameters,
 * `$scrypt$ln=14,r=8,p=5$<salt>$<key>`, so the cost can be raised and old hashes upgraded at next login.
 *
 * Imports nothing but node:crypto so Node can load this file directly (type stripping).
 */
import { scrypt, timingSafeEqual } from "node:crypto";

export const PASSWORD_MIN_CHARS = 8;
/** Bytes of the normalised UTF-8 password; bounds the work one request can ask for. */
export const PASSWORD_MAX_BYTES = 256;

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. Memory per hash is 128 * r * 2^logN bytes. */
  logN: number;
  r: number;
  p: number;
}

/** OWASP's scrypt alternative for 16 MiB (N=2^14, r=8, p=5): about 130 ms of CPU in workerd here. */
export const CURRENT_SCRYPT_PARAMS: ScryptParams = { logN: 14, r: 8, p: 5 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on parameters read back from a stored hash, so a bad row cannot pin the CPU or memory. */
const MAX_LOG_N = 16;
const MAX_R = 16;
const MAX_P = 16;
/** Refuses any parameter set needing more than this (a quarter of a Worker isolate's 128 MB). */
export const SCRYPT_MAX_MEMORY_BYTES = 32 * 1024 * 1024;

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{16,128})$/;

export const scryptMemoryBytes = (params: ScryptParams): number => 128 * params.r * 2 ** params.logN;

const encoder = new TextEncoder();

/** NIST SP 800-63B §5.1.1.2: normalise Unicode (NFKC) so the same password typed differently matches. */
export const normalisePassword = (password: string): Uint8Array => encoder.encode(password.normalize("NFKC"));

/** Null when acceptable, otherwise why not (for a new password; login only checks the byte limit). */
export function passwordPolicyProblem(password: string): string | null {
  const normalised = password.normalize("NFKC");
  if ([...normalised].length < PASSWORD_MIN_CHARS) return `must be at least ${PASSWORD_MIN_CHARS} characters`;
  if (encoder.encode(normalised).length > PASSWORD_MAX_BYTES)
    return `must be at most ${PASSWORD_MAX_BYTES} bytes (UTF-8)`;
  return null;
}

function checkParams(params: ScryptParams): void {
  const { logN, r, p } = params;
  const ok =
    Number.isInteger(logN) &&
    logN >= 10 &&
    logN <= MAX_LOG_N &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P &&
    scryptMemoryBytes(params) <= SCRYPT_MAX_MEMORY_BYTES;
  if (!ok) throw new RangeError(`scrypt parameters out of bounds: ln=${logN},r=${r},p=${p}`);
}

function derive(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  checkParams(params);
  if (password.length > PASSWORD_MAX_BYTES) return Promise.reject(new RangeError("password too long"));
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: SCRYPT_MAX_MEMORY_BYTES + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))),
    );
  });
}

// PHC strings use standard base64 without padding.
const toB64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const fromB64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

/** Hashes a password with a fresh 128-bit salt. The caller checked the policy. */
export async function hashPassword(password: string, params: ScryptParams = CURRENT_SCRYPT_PARAMS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = await derive(normalisePassword(password), salt, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${toB64(salt)}$${toB64(key)}`;
}

export interface PasswordCheck {
  ok: boolean;
  /** The hash used weaker (or different) parameters than today's: store a fresh hash. */
  needsRehash: boolean;
}

interface ParsedHash {
  params: ScryptParams;
  salt: Uint8Array;
  key: Uint8Array;
}

function parseHash(stored: string): ParsedHash | null {
  const m = PHC.exec(stored);
  if (!m) return null;
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  try {
    checkParams(params);
    return { params, salt: fromB64(m[4] as string), key: fromB64(m[5] as string) };
  } catch {
    return null;
  }
}

/** Verifies in constant time (for a given hash). A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<PasswordCheck> {
  const parsed = parseHash(stored);
  const input = normalisePassword(password);
  if (!parsed || input.length > PASSWORD_MAX_BYTES) {
    // Same work as a real check, so the answer's timing says nothing about why it failed.
    await burnPasswordCheck(password);
    return { ok: false, needsRehash: false };
  }
  const key = await derive(input, parsed.salt, parsed.params);
  const ok = key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  const current = CURRENT_SCRYPT_PARAMS;
  const needsRehash =
    parsed.params.logN !== current.logN || parsed.params.r !== current.r || parsed.params.p !== current.p;
  return { ok, needsRehash };
}

/**
 * Spends the same CPU as verifying against a current hash. Login calls it for an unknown email so
 * "no such account" and "wrong password" take the same time.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  const input = normalisePassword(password).subarray(0, PASSWORD_MAX_BYTES);
  await derive(input, new Uint8Array(SALT_BYTES), CURRENT_SCRYPT_PARAMS);
}
