/**
 * Creates the first admin account from ADMIN_EMAIL and ADMIN_PASSWORD, idempotently:
 *   - no account with that email: it is created with roles {admin,user};
 *   - the account exists without the admin role: the role is added;
 *   - the account exists with it: nothing changes.
 * An existing account's password is never overwritten (the admin may have changed it since), so
 * rerunning this on every `npm run dev` or deploy is safe. The hash is made by the Worker's own
 * module (src/features/auth/password.ts), so the Worker verifies what this writes.
 *
 *   DATABASE_URL=postgres://... ADMIN_EMAIL=you@example.com ADMIN_PASSWORD=... npm run db:seed
 */
import pg from "pg";
import { EMAIL_MAX_LENGTH, normaliseEmail } from "../src/features/auth/email.ts";
import { hashPassword, passwordPolicyProblem } from "../src/features/auth/password.ts";

export interface SeedAdminInput {
  databaseUrl: string;
  email: string;
  password: string;
}

export interface SeedAdminResult {
  action: "created" | "promoted" | "unchanged";
  userId: string;
  email: string;
}

// ASCII (so JS and Postgres lower-case it alike), one @; a dotless domain such as `admin@localhost`
// (the dev stack's default) is allowed here and at login, though registration requires a dot.
const EMAIL = /^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/** Null when the input can be seeded; otherwise what to fix. Never echoes the password. */
export function seedInputProblem(email: string | undefined, password: string | undefined): string | null {
  if (!email) return "ADMIN_EMAIL is required: the admin account's email address.";
  const normalised = normaliseEmail(email);
  if (normalised.length > EMAIL_MAX_LENGTH || !EMAIL.test(normalised))
    return "ADMIN_EMAIL is not a valid email address.";
  if (!password) return "ADMIN_PASSWORD is required: the admin account's initial password.";
  const policy = passwordPolicyProblem(password);
  return policy ? `ADMIN_PASSWORD ${policy}.` : null;
}

export async function seedAdmin(input: SeedAdminInput): Promise<SeedAdminResult> {
  const problem = seedInputProblem(input.email, input.password);
  if (problem) throw new Error(problem);
  const email = normaliseEmail(input.email);
  const client = new pg.Client({
    connectionString: input.databaseUrl,
    connectionTimeoutMillis: 10_000,
    query_timeout: 10_000,
  });
  await client.connect();
  try {
    const found = await client.query<{ id: string; roles: string[] }>("select id, roles from users where email = $1", [
      email,
    ]);
    let existing = found.rows[0];
    if (!existing) {
      const passwordHash = await hashPassword(input.password);
      const inserted = await client.query<{ id: string }>(
        // The operator chose the address, so it counts as verified (auth.require-verified-email).
        `insert into users (email, password_hash, name, roles, email_verified_at) values ($1, $2, 'Admin', '{admin,user}', now())
         on conflict (email) do nothing returning id`,
        [email, passwordHash],
      );
      const created = inserted.rows[0];
      if (created) return { action: "created", userId: created.id, email };
      // Another seeder won the race: treat its row like any existing account.
      existing = (
        await client.query<{ id: string; roles: string[] }>("select id, roles from users where email = $1", [email])
      ).rows[0];
      if (!existing) throw new Error("the admin account vanished while seeding; run the command again");
    }
    const promoted = await client.query(
      `update users set roles = array_append(roles, 'admin'), updated_at = now()
       where id = $1 and not ('admin' = any(roles))`,
      [existing.id],
    );
    return { action: (promoted.rowCount ?? 0) > 0 ? "promoted" : "unchanged", userId: existing.id, email };
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = process.env.DATABASE_URL;
  const { ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = process.env;
  const problem = !databaseUrl
    ? "DATABASE_URL is required: the Postgres URL to seed."
    : seedInputProblem(email, password);
  if (problem) {
    console.error(problem);
    process.exit(2);
  }
  seedAdmin({ databaseUrl: databaseUrl as string, email: email as string, password: password as string }).then(
    (result) => console.log(`admin ${result.email}: ${result.action} (id ${result.userId})`),
    (error: unknown) => {
      // The pg error message can name the host; never the password, which is not in it.
      console.error(`seeding the admin failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
