// Development-only credentials that must stay the same across `npm run dev` runs (or every restart
// would invalidate sessions and the admin password): generated once, kept under .data/ (git-ignored).
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return null;
  }
}

async function writePrivate(path: string, data: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
}

export interface AdminCredentials {
  email: string;
  password: string;
  /** True when created by this call (so the caller prints the password once). */
  generated: boolean;
}

export async function loadOrCreateAdmin(path: string): Promise<AdminCredentials> {
  const saved = await readJson<{ email?: unknown; password?: unknown }>(path);
  if (saved && typeof saved.email === "string" && typeof saved.password === "string") {
    return { email: saved.email, password: saved.password, generated: false };
  }
  const admin = { email: "admin@localhost", password: randomBytes(12).toString("base64url") };
  await writePrivate(path, admin);
  return { ...admin, generated: true };
}

/** JWT_KEYS as the Worker expects it: a JSON array string with one HS256 key (base64url of 32 random bytes). */
export async function loadOrCreateJwtKeys(path: string): Promise<string> {
  const saved = await readJson<{ JWT_KEYS?: unknown }>(path);
  if (saved && typeof saved.JWT_KEYS === "string") return saved.JWT_KEYS;
  const keys = JSON.stringify([{ kid: "dev-hs256", alg: "HS256", secret: randomBytes(32).toString("base64url") }]);
  await writePrivate(path, { JWT_KEYS: keys });
  return keys;
}
