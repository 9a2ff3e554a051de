import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { TransactionRollbackError } from "drizzle-orm/errors";
import type { Database } from "../../src/adapters/postgres.ts";
import type { Bindings } from "../../src/core/app-env.ts";
import { createDeps } from "../../src/composition/deps.ts";
import type { Deps } from "../../src/core/deps.ts";
import { createLogger } from "../../common/logger.ts";
import { ProblemError } from "../../src/core/problem.ts";
import { settings } from "../../src/db/schema.ts";
import { createDisabledMailer, createHttpMailer } from "../../src/adapters/mail.ts";
import { forgotPassword } from "../../src/features/auth/account-recovery.ts";
import { mailerFor } from "../../src/features/auth/auth-mailer.ts";
import { linkBaseOf } from "../../src/features/auth/service.ts";
import { callWithEnv } from "./support/settings.ts";
import type { Logger } from "../../common/logger.ts";
import type { AuthContext } from "../../src/features/auth/model.ts";
import {
  login as loginService,
  REQUIRE_VERIFIED_EMAIL_KEY,
  register as registerService,
} from "../../src/features/auth/service.ts";
import { describe, expect, it } from "vitest";
import { configFor } from "../../src/core/config.ts";
import { authMailTokens, users } from "../../src/db/schema.ts";
import { MAIL_TOKEN_TTL_SECONDS } from "../../src/features/auth/mail-tokens.ts";
import { call, callJson, createAuthUser, randomClientIp, uniqueEmail, withTestDatabase } from "./support/auth.ts";
import { mailsTo, tokenIn, waitForMails } from "./support/outbox.ts";
import { join, uniqueRoom } from "./support/rooms.ts";

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  user: { id: string; emailVerified: boolean };
}

const config = configFor(env);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const login = (email: string, password: string) => callJson("/v1/auth/login", { email, password });
const refresh = (refreshToken: string) => callJson("/v1/auth/refresh", { refreshToken });
const forgot = (email: string, ip?: string) => callJson("/v1/auth/password/forgot", { email }, ip ? { ip } : {});
const reset = (token: string, password: string) => callJson("/v1/auth/password/reset", { token, password });
const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(atob((jwt.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;

describe("password reset by mail", () => {
  it("forgot → mail in the outbox → reset: old sessions and password die, the new password signs in, the link works once", async () => {
    const user = await createAuthUser();
    const second = (await (await login(user.email, user.password)).json()) as TokenPair;
    const socket = await join(uniqueRoom("reset"), {
      userId: user.id,
      sessionId: user.sessionId,
      roles: user.roles,
      token: user.accessToken,
    });

    const res = await forgot(user.email);
    expect(res.status).toBe(202);
    const [mail] = await waitForMails(user.email, 1);
    expect(mail?.subject).toBe("Reset your password");
    expect(mail?.text).toContain("https://app.edge.test/reset-password?token=");
    expect(mail?.html).toContain("https://app.edge.test/reset-password?token=");
    const token = tokenIn(mail as NonNullable<typeof mail>);

    const newPassword = `new-${crypto.randomUUID()}`;
    expect((await reset(token, newPassword)).status).toBe(204);
    expect((await socket.waitClosed(10_000)).code).not.toBe(1000);

    expect((await refresh(user.refreshToken)).status).toBe(401);
    expect((await refresh(second.refreshToken)).status).toBe(401);
    expect((await login(user.email, user.password)).status).toBe(401);
    const fresh = await login(user.email, newPassword);
    expect(fresh.status).toBe(200);
    // Following the mailed link proved the address.
    expect(((await fresh.json()) as TokenPair).user.emailVerified).toBe(true);

    const again = await reset(token, `other-${crypto.randomUUID()}`);
    expect(again.status).toBe(400);
    expect(again.headers.get("Content-Type")).toContain("application/problem+json");
    expect(((await again.json()) as { type: string }).type).toBe("/problems/invalid-mail-token");
    expect((await login(user.email, newPassword)).status).toBe(200);
  });

  it("answers 202 for an unknown address and sends nothing", async () => {
    const email = uniqueEmail("nobody");
    const res = await forgot(email);
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
    // A known address mailed after it has arrived, so the unknown one had its chance to be sent too.
    const known = await createAuthUser({ loginable: false });
    expect((await forgot(known.email)).status).toBe(202);
    await waitForMails(known.email, 1);
    expect(await mailsTo(email)).toEqual([]);
  });

  it("refuses a weak new password with 422 and leaves the token usable", async () => {
    const user = await createAuthUser({ loginable: false });
    await forgot(user.email);
    const token = tokenIn((await waitForMails(user.email, 1))[0] as never);
    const weak = await reset(token, "short");
    expect(weak.status).toBe(422);
    expect((await refresh(user.refreshToken)).status).toBe(200);
    expect((await reset(token, `good-${crypto.randomUUID()}`)).status).toBe(204);
  });

  it("refuses an expired, unknown or malformed token with the same 400 and changes nothing", async () => {
    const user = await createAuthUser({ loginable: false });
    await forgot(user.email);
    const token = tokenIn((await waitForMails(user.email, 1))[0] as never);
    await withTestDatabase((db) =>
      db
        .update(authMailTokens)
        .set({ expiresAt: sql`now() - interval '1 second'` })
        .where(eq(authMailTokens.userId, user.id)),
    );
    for (const bad of [token, "A".repeat(43), "not a token"]) {
      const res = await reset(bad, `pw-${crypto.randomUUID()}`);
      expect(res.status).toBe(400);
    }
    expect((await refresh(user.refreshToken)).status).toBe(200);
    const [row] = await withTestDatabase((db) => db.select().from(users).where(eq(users.id, user.id)));
    expect(row?.passwordHash).toBe("!not-loginable");
  });

  it("issues tokens that expire 30 minutes after issue and stores only their hash", async () => {
    const user = await createAuthUser({ loginable: false });
    await forgot(user.email);
    const token = tokenIn((await waitForMails(user.email, 1))[0] as never);
    const rows = await withTestDatabase((db) =>
      db.select().from(authMailTokens).where(eq(authMailTokens.userId, user.id)),
    );
    expect(rows).toHaveLength(1);
    const row = rows[0] as (typeof rows)[number];
    expect(row.tokenHash).not.toContain(token);
    expect(row.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBe(MAIL_TOKEN_TTL_SECONDS * 1000);
  });

  it("limits forgot per address, whether or not it has an account", async () => {
    const email = uniqueEmail("flood");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await forgot(email, randomClientIp())).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
  });
});

describe("password change", () => {
  it("needs the current password, keeps the caller's session and revokes the others", async () => {
    const user = await createAuthUser();
    const other = (await (await login(user.email, user.password)).json()) as TokenPair;
    const change = (currentPassword: string, newPassword: string) =>
      callJson("/v1/auth/password/change", { currentPassword, newPassword }, { headers: user.auth });

    const wrong = await change("not the password", `new-${crypto.randomUUID()}`);
    expect(wrong.status).toBe(403);
    expect((await refresh(other.refreshToken)).status).toBe(200);

    const other2 = (await (await login(user.email, user.password)).json()) as TokenPair;
    const newPassword = `new-${crypto.randomUUID()}`;
    expect((await change(user.password, newPassword)).status).toBe(204);
    expect((await refresh(other2.refreshToken)).status).toBe(401);
    expect((await refresh(user.refreshToken)).status).toBe(200);
    expect((await login(user.email, user.password)).status).toBe(401);
    expect((await login(user.email, newPassword)).status).toBe(200);
  });
});

describe("email verification", () => {
  it("register mails a link; confirming it shows in /me and in the next access token, and the link works once", async () => {
    const email = uniqueEmail("verify");
    const reg = await callJson("/v1/auth/register", { email, password: "correct horse battery" });
    expect(reg.status).toBe(201);
    const pair = (await reg.json()) as TokenPair;
    expect(pair.user.emailVerified).toBe(false);
    expect(claimsOf(pair.accessToken).email_verified).toBe(false);

    const [mail] = await waitForMails(email, 1);
    expect(mail?.subject).toBe("Confirm your email address");
    expect(mail?.text).toContain("https://app.edge.test/verify-email?token=");
    const token = tokenIn(mail as never);
    expect((await callJson("/v1/auth/email/verify", { token })).status).toBe(204);

    // The row at once (issue #16: plain /me answers from the token, which says false until the refresh below).
    const me = (await (await call("/v1/auth/me?fresh=true", { headers: bearer(pair.accessToken) })).json()) as {
      emailVerified: boolean;
    };
    expect(me.emailVerified).toBe(true);
    const next = (await (await refresh(pair.refreshToken)).json()) as TokenPair;
    expect(claimsOf(next.accessToken).email_verified).toBe(true);
    expect(next.user.emailVerified).toBe(true);

    const again = await callJson("/v1/auth/email/verify", { token });
    expect(again.status).toBe(400);
  });

  it("mails a new link on request to an unverified account, nothing to an unknown or verified one (202 each)", async () => {
    const user = await createAuthUser({ loginable: false });
    const unknown = uniqueEmail("ghost");
    for (const email of [unknown, user.email]) {
      expect((await callJson("/v1/auth/email/verification", { email })).status).toBe(202);
    }
    const token = tokenIn((await waitForMails(user.email, 1))[0] as never);
    expect((await callJson("/v1/auth/email/verify", { token })).status).toBe(204);
    expect((await callJson("/v1/auth/email/verification", { email: user.email })).status).toBe(202);
    // A later mail to another account arrives first, so the two refusals had time to send (they did not).
    const marker = await createAuthUser({ loginable: false });
    await callJson("/v1/auth/email/verification", { email: marker.email });
    await waitForMails(marker.email, 1);
    expect(await mailsTo(unknown)).toEqual([]);
    expect(await mailsTo(user.email)).toHaveLength(1);
  });

  it("does not verify a changed address with a link sent to the old one", async () => {
    const user = await createAuthUser({ loginable: false });
    await callJson("/v1/auth/email/verification", { email: user.email });
    const token = tokenIn((await waitForMails(user.email, 1))[0] as never);
    await withTestDatabase((db) =>
      db
        .update(users)
        .set({ email: uniqueEmail("moved") })
        .where(eq(users.id, user.id)),
    );
    expect((await callJson("/v1/auth/email/verify", { token })).status).toBe(400);
    const [row] = await withTestDatabase((db) => db.select().from(users).where(eq(users.id, user.id)));
    expect(row?.emailVerifiedAt).toBeNull();
  });
});

describe("the auth.require-verified-email setting", () => {
  it("refuses sign-in to an unverified account with 403, lets a verified one in, and register hands out no tokens", async () => {
    const user = await createAuthUser();
    const background = createExecutionContext();
    const real = createDeps(config, env as unknown as Bindings, background);
    // The setting is written inside a transaction that is rolled back: other test files running at
    // the same time never see it, while the service under test reads it through that transaction.
    await withTestDatabase((db) =>
      db
        .transaction(async (tx) => {
          await tx.insert(settings).values({ key: REQUIRE_VERIFIED_EMAIL_KEY, value: true, version: 1 });
          const deps: Deps = {
            db: tx as unknown as Database,
            redis: null,
            storage: real.deps.storage,
            rooms: real.deps.rooms,
            background,
          };
          const ctx: AuthContext = { deps, config, log: createLogger("error"), client: "test" };
          const refused = await loginService(ctx, { email: user.email, password: user.password }).catch((e) => e);
          expect(refused).toBeInstanceOf(ProblemError);
          expect(refused).toMatchObject({ status: 403, type: "email-not-verified" });

          await tx.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, user.id));
          const pair = await loginService(ctx, { email: user.email, password: user.password });
          expect(claimsOf(pair.accessToken).email_verified).toBe(true);

          const pending = await registerService(ctx, {
            email: uniqueEmail("pending"),
            password: "correct horse battery",
          });
          expect(pending).toMatchObject({ emailVerificationRequired: true, user: { emailVerified: false } });
          expect(pending).not.toHaveProperty("accessToken");
          tx.rollback();
        })
        .catch((error: unknown) => {
          if (!(error instanceof TransactionRollbackError)) throw error;
        }),
    );
    await waitOnExecutionContext(background);
    await real.close();
    // Outside the transaction the setting never existed: the same account signs in as before.
    expect((await login(user.email, user.password)).status).toBe(200);
  });
});

describe("mail transport", () => {
  it("without one configured sends nothing and says so once", async () => {
    const { MAIL_API_KEY: _key, ...unconfigured } = config;
    expect(mailerFor({ ...unconfigured }, createLogger("error")).configured).toBe(false);
    const warnings: string[] = [];
    const mailer = createDisabledMailer((message) => warnings.push(message));
    for (let i = 0; i < 3; i++) await mailer.send({ to: "a@example.test", subject: "s", text: "t", html: "h" });
    expect(warnings.length).toBeLessThanOrEqual(1);
    expect(warnings.join()).not.toContain("a@example.test");
  });

  it("a provider that refuses the mail does not change the 202 answer; the failure is logged without the token", async () => {
    const user = await createAuthUser({ loginable: false });
    const background = createExecutionContext();
    const real = createDeps(config, env as unknown as Bindings, background);
    const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = {
      debug: () => {},
      info: () => {},
      warn: (msg, fields) => void logged.push({ msg, ...(fields && { fields }) }),
      error: (msg, fields) => void logged.push({ msg, ...(fields && { fields }) }),
      child: () => log,
    };
    const refusing = createHttpMailer({
      apiUrl: config.MAIL_API_URL,
      apiKey: "wrong-key",
      from: "x@edge.test",
      timeoutMs: 2_000,
    });
    const ctx: AuthContext = { deps: real.deps, config, log, client: randomClientIp(), mail: refusing };
    await expect(forgotPassword(ctx, user.email)).resolves.toBeUndefined();
    await waitOnExecutionContext(background);
    await real.close();
    expect(logged.map((l) => l.msg)).toContain("issuing or sending an auth mail failed");
    expect(JSON.stringify(logged)).not.toMatch(/token=/);
  });
});

describe("where mail links point", () => {
  it("without AUTH_LINK_BASE_URL or PUBLIC_API_URL, on Workers: the routed origin", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await callWithEnv(
      "/v1/auth/password/forgot",
      { AUTH_LINK_BASE_URL: undefined, PUBLIC_API_URL: undefined },
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": randomClientIp() },
        body: JSON.stringify({ email: user.email }),
      },
    );
    expect(res.status).toBe(202);
    const [mail] = await waitForMails(user.email, 1);
    expect(mail?.text).toContain("http://edge.test/reset-password?token=");
  });

  it("off Workers without a configured base: no link at all, rather than one to the client's Host", () => {
    const errors: string[] = [];
    const log = { ...createLogger("error"), error: (msg: string) => void errors.push(msg) };
    const { AUTH_LINK_BASE_URL: _a, PUBLIC_API_URL: _p, ...bare } = config;
    const ctx = { deps: {} as Deps, config: bare, log, client: "test", linkBase: undefined };
    expect(linkBaseOf(ctx)).toBeUndefined();
    expect(errors.join()).toContain("AUTH_LINK_BASE_URL");
    expect(linkBaseOf({ ...ctx, config: { ...bare, PUBLIC_API_URL: "https://api.example.com" } })).toBe(
      "https://api.example.com",
    );
  });
});
