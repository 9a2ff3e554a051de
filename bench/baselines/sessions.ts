// Sessions for the baseline. The main user signs up through the baseline's own /v1/auth/register;
// the many realtime users get session records written straight into Redis in connect-redis' format
// with cookies signed the way express-session signs them (cookie-signature: HMAC-SHA256, base64,
// no padding), which is what a sign-in would have produced, minus 1,000 scrypt hashes.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { RedisClientType } from "redis";

export interface BaselineUser {
  userId: string;
  /** The Cookie header value. */
  cookie: string;
}

export async function registerBaseline(url: string, runId: string): Promise<BaselineUser> {
  const res = await fetch(`${url}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `bench-${runId}@example.test`, password: `pw-${randomUUID()}`, name: "Bench" }),
    signal: AbortSignal.timeout(15_000),
  });
  const setCookie = res.headers.get("set-cookie");
  const body = (await res.json()) as { user?: { id?: string } };
  if (res.status !== 201 || !setCookie || !body.user?.id) throw new Error(`baseline register answered ${res.status}`);
  return { userId: body.user.id, cookie: setCookie.split(";")[0] as string };
}

const sign = (value: string, secret: string): string =>
  `${value}.${createHmac("sha256", secret).update(value).digest("base64").replace(/=+$/, "")}`;

export async function mintSessions(
  redis: RedisClientType,
  opts: { keyPrefix: string; secret: string; count: number; tag: string; ttlSeconds?: number },
): Promise<BaselineUser[]> {
  const ttl = opts.ttlSeconds ?? 3600;
  const users: BaselineUser[] = [];
  const multi = redis.multi();
  for (let i = 0; i < opts.count; i++) {
    const sid = randomBytes(24).toString("base64url");
    const userId = randomUUID();
    const session = {
      cookie: {
        originalMaxAge: ttl * 1000,
        expires: new Date(Date.now() + ttl * 1000).toISOString(),
        secure: false,
        httpOnly: true,
        path: "/",
        sameSite: "lax",
      },
      user: {
        id: userId,
        email: `bench-${opts.tag}-${i}@example.test`,
        name: `Bench ${i}`,
        roles: ["user"],
        createdAt: new Date().toISOString(),
      },
    };
    multi.set(`${opts.keyPrefix}sess:${sid}`, JSON.stringify(session), { expiration: { type: "EX", value: ttl } });
    users.push({ userId, cookie: `sid=${encodeURIComponent(`s:${sign(sid, opts.secret)}`)}` });
  }
  await multi.exec();
  return users;
}
