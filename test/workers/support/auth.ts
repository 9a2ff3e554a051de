import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { createPostgres, type Database } from "../../../src/adapters/postgres.ts";
import { configFor } from "../../../src/core/config.ts";
import { users } from "../../../src/db/schema.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";
import { hashPassword } from "../../../src/features/auth/password.ts";
import { startSession } from "../../../src/features/auth/sessions.ts";
import { profileClaimsOf } from "../../../src/features/auth/users.ts";

/**
 * Helpers for tests that need signed-in users. `createAuthUser` writes the account straight to
 * the test database and starts a real session, so the tokens it returns work everywhere: bearer
 * auth, refresh, logout, the revocation list.
 */

export interface AuthTestUser {
  id: string;
  email: string;
  password: string;
  roles: string[];
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  /** Spread into request headers. */
  auth: { Authorization: string };
}

/** A fresh client address per call, so tests do not share rate-limit buckets. */
export const randomClientIp = (): string => `10.${Array.from(crypto.getRandomValues(new Uint8Array(3))).join(".")}`;

export const uniqueEmail = (label = "user"): string => `${label}-${crypto.randomUUID()}@example.test`;

/** Calls the Worker as a client at `ip` (a random one by default). */
export function call(path: string, init: RequestInit & { ip?: string } = {}): Promise<Response> {
  const { ip = randomClientIp(), ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("CF-Connecting-IP", ip);
  return exports.default.fetch(new Request(`http://edge.test${path}`, { ...rest, headers }));
}

/** POSTs (or another method) a JSON body. */
export const callJson = (path: string, body: unknown, init: RequestInit & { ip?: string } = {}): Promise<Response> =>
  call(path, {
    method: "POST",
    ...init,
    headers: { "Content-Type": "application/json", ...(init.headers as Record<string, string> | undefined) },
    body: JSON.stringify(body),
  });

/** Opens a pool, runs `work`, closes it: a workerd test may not keep sockets across tests. */
export async function withTestDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const config = configFor(env);
  const pg = createPostgres({ url: config.DATABASE_URL, wsProxy: config.DATABASE_WS_PROXY, timeoutMs: 5_000 });
  try {
    return await work(pg.db);
  } finally {
    await pg.close();
  }
}

export interface CreateAuthUserOptions {
  roles?: string[];
  email?: string;
  password?: string;
  name?: string;
  /** Skip the (deliberately slow) password hash when the test never signs in with the password. */
  loginable?: boolean;
}

/** Creates an account with `roles` and a signed-in session; returns its tokens. */
export async function createAuthUser(options: CreateAuthUserOptions = {}): Promise<AuthTestUser> {
  const config = configFor(env);
  const roles = options.roles ?? ["user"];
  const email = (options.email ?? uniqueEmail()).trim().toLowerCase();
  const password = options.password ?? `pw-${crypto.randomUUID()}`;
  const passwordHash = options.loginable === false ? "!not-loginable" : await hashPassword(password);
  return withTestDatabase(async (db) => {
    const [row] = await db
      .insert(users)
      .values({ email, passwordHash, roles, name: options.name ?? null })
      .returning();
    if (!row) throw new Error("inserting the test user returned no row");
    const session = await startSession(db, row.id, config.REFRESH_TOKEN_TTL_SECONDS);
    const { token } = await issueAccessToken(
      { userId: row.id, roles, sessionId: session.sessionId, profile: profileClaimsOf(row) },
      config,
    );
    return {
      id: row.id,
      email,
      password,
      roles,
      sessionId: session.sessionId,
      accessToken: token,
      refreshToken: session.refreshToken,
      auth: { Authorization: `Bearer ${token}` },
    };
  });
}
