// Users and access tokens for the Worker under test. The contract way first (POST /v1/auth/register);
// while the auth feature has not landed, or for many users at once, rows are inserted into `users`
// directly and tokens are minted with the Worker's own issueAccessToken and the run's JWT keys, which
// is exactly what the Worker verifies (access tokens need no I/O to verify).
import { randomUUID } from "node:crypto";
import pg from "pg";
import { configFor } from "../../src/core/config.ts";
import { issueAccessToken } from "../../src/features/auth/access-token.ts";

export interface OursUser {
  userId: string;
  sessionId: string;
  token: string;
}

export interface OursIdentity {
  user: OursUser;
  /** The same user with the admin role (for seeding settings). */
  adminToken: string;
  /** How the user was made: "register" (through the API) or "direct" (fixture rows). */
  via: "register" | "direct";
}

function sidOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      sid?: unknown;
    };
    return typeof payload.sid === "string" ? payload.sid : undefined;
  } catch {
    return undefined;
  }
}

async function withDb<T>(databaseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 30_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function provisionOurs(
  url: string,
  databaseUrl: string,
  vars: Record<string, string>,
  runId: string,
): Promise<OursIdentity> {
  const config = configFor(vars);
  const email = `bench-${runId}@example.test`;
  let user: OursUser | undefined;
  let via: OursIdentity["via"] = "register";
  try {
    const res = await fetch(`${url}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: `pw-${randomUUID()}`, name: "Bench" }),
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status === 201) {
      const body = (await res.json()) as { accessToken?: string; user?: { id?: string } };
      const sid = body.accessToken ? sidOf(body.accessToken) : undefined;
      if (body.accessToken && body.user?.id && sid)
        user = { userId: body.user.id, sessionId: sid, token: body.accessToken };
    } else {
      await res.arrayBuffer();
    }
  } catch {
    // not available: fall through to fixture rows
  }
  if (!user) {
    via = "direct";
    const [made] = await createUsers(databaseUrl, vars, `${runId}-main`, 1);
    if (!made) throw new Error("could not create the benchmark user");
    user = made;
  }
  const admin = user;
  await withDb(databaseUrl, (c) => c.query("update users set roles = '{user,admin}' where id = $1", [admin.userId]));
  const { token: adminToken } = await issueAccessToken(
    { userId: admin.userId, roles: ["user", "admin"], sessionId: admin.sessionId },
    config,
  );
  return { user, adminToken, via };
}

/** Inserts `count` users in one statement and mints a token for each (one session per user). */
export async function createUsers(
  databaseUrl: string,
  vars: Record<string, string>,
  tag: string,
  count: number,
): Promise<OursUser[]> {
  const config = configFor(vars);
  const ids = await withDb(databaseUrl, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `insert into users (email, password_hash, name)
       select 'bench-' || $1::text || '-' || g || '@example.test', '!unusable', 'Bench ' || g
       from generate_series(1, $2::int) g
       returning id`,
      [tag, count],
    );
    return rows.map((r) => r.id);
  });
  const users: OursUser[] = [];
  for (const userId of ids) {
    const sessionId = randomUUID();
    const { token } = await issueAccessToken({ userId, roles: ["user"], sessionId }, config);
    users.push({ userId, sessionId, token });
  }
  return users;
}
