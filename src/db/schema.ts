import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** Every instant is a `timestamptz`, read as a Date. */
const instant = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const createdAt = () => instant("created_at").notNull().defaultNow();
const updatedAt = () => instant("updated_at").notNull().defaultNow();
/** A random UUID primary key. */
const uuidKey = () => uuid("id").primaryKey().defaultRandom();
/** The account a row belongs to; what deleting the account does to the row. */
const accountRef = (name: string, onDelete: "cascade" | "restrict") =>
  uuid(name)
    .notNull()
    .references(() => users.id, { onDelete });

/**
 * Accounts. `email` is stored normalised (trimmed, lower-case), so the unique index is
 * case-insensitive; the check constraint holds every writer (the API, the seed script, a manual
 * fix-up) to that, since one mixed-case row would silently defeat the uniqueness.
 */
export const users = pgTable(
  "users",
  {
    id: uuidKey(),
    email: text("email").notNull().unique(),
    passwordHash: text("password_hash").notNull(),
    name: text("name"),
    roles: text("roles").array().notNull().default(sql`'{user}'::text[]`),
    /** When the address was proven by a verification mail; null: not verified. */
    emailVerifiedAt: instant("email_verified_at"),
    /** Set by an admin: the account cannot sign in or refresh. */
    disabledAt: instant("disabled_at"),
    /** Accounts made on first sight of an external issuer's token: that issuer and its `sub`. */
    externalIssuer: text("external_issuer"),
    externalSubject: text("external_subject"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("users_email_normalised_check", sql`${t.email} = lower(btrim(${t.email}))`),
    uniqueIndex("users_external_identity_idx").on(t.externalIssuer, t.externalSubject),
    index("users_created_idx").on(t.createdAt.desc(), t.id.desc()),
  ],
);

/**
 * Rotating refresh tokens. Only a SHA-256 of the token is stored. A family is one sign-in
 * (the `sid` claim of its access tokens); each refresh spends a token and adds a child.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuidKey(),
    userId: accountRef("user_id", "cascade"),
    familyId: uuid("family_id").notNull(),
    parentId: uuid("parent_id"),
    tokenHash: text("token_hash").notNull().unique(),
    expiresAt: instant("expires_at").notNull(),
    spentAt: instant("spent_at"),
    revokedAt: instant("revoked_at"),
    createdAt: createdAt(),
    // What the sessions list shows, copied to every token of the family (old rows are pruned):
    // when the sign-in happened, its User-Agent (truncated) and the client's /24 or /48 prefix.
    sessionStartedAt: instant("session_started_at"),
    userAgent: text("user_agent"),
    clientPrefix: text("client_prefix"),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_user_idx").on(t.userId)],
);

/**
 * Single-use tokens sent by mail (password reset, email verification). Only the SHA-256 of the
 * token is stored; `email` is the address it was sent to, so a token for an old address does
 * not verify a changed one.
 */
export const authMailTokens = pgTable(
  "auth_mail_tokens",
  {
    id: uuidKey(),
    userId: accountRef("user_id", "cascade"),
    purpose: text("purpose", { enum: ["password-reset", "email-verification"] }).notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    email: text("email").notNull(),
    expiresAt: instant("expires_at").notNull(),
    usedAt: instant("used_at"),
    createdAt: createdAt(),
  },
  (t) => [
    index("auth_mail_tokens_user_idx").on(t.userId, t.purpose),
    index("auth_mail_tokens_expires_idx").on(t.expiresAt),
    check("auth_mail_tokens_purpose_check", sql`${t.purpose} in ('password-reset', 'email-verification')`),
  ],
);

/** App-wide runtime settings: the truth. Readers go through the Redis cache. */
export const settings = pgTable(
  "settings",
  {
    key: text("key").primaryKey(),
    value: jsonb("value").notNull(),
    version: integer("version").notNull(),
    visibility: text("visibility", { enum: ["public", "authenticated", "admin"] })
      .notNull()
      .default("admin"),
    /** Optional JSON Schema every write of this key must satisfy. */
    schema: jsonb("schema"),
    updatedAt: updatedAt(),
    updatedBy: uuid("updated_by"),
  },
  (t) => [
    check("settings_visibility_check", sql`${t.visibility} in ('public', 'authenticated', 'admin')`),
    check("settings_version_check", sql`${t.version} > 0`),
  ],
);

/** Append-only: one row per committed change, written in the same transaction as `settings`. */
export const settingsHistory = pgTable(
  "settings_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    key: text("key").notNull(),
    value: jsonb("value"),
    version: integer("version").notNull(),
    visibility: text("visibility", { enum: ["public", "authenticated", "admin"] }).notNull(),
    deleted: boolean("deleted").notNull().default(false),
    changedAt: instant("changed_at").notNull().defaultNow(),
    changedBy: uuid("changed_by"),
  },
  (t) => [uniqueIndex("settings_history_key_version_idx").on(t.key, t.version)],
);

/** Metadata of objects in the bucket. The bytes live in S3/R2 only. */
export const assets = pgTable(
  "assets",
  {
    id: uuidKey(),
    ownerId: accountRef("owner_id", "restrict"),
    objectKey: text("object_key").notNull().unique(),
    url: text("url").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    sha256: text("sha256"),
    visibility: text("visibility", { enum: ["public", "private"] })
      .notNull()
      .default("private"),
    status: text("status", { enum: ["pending", "ready"] })
      .notNull()
      .default("pending"),
    /** Set while a presigned multipart upload is open, so the sweeper can abort it. */
    multipartUploadId: text("multipart_upload_id"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("assets_owner_created_idx").on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index("assets_pending_idx").on(t.status, t.createdAt),
    check("assets_size_check", sql`${t.size} >= 0`),
    check("assets_status_check", sql`${t.status} in ('pending', 'ready')`),
    check("assets_visibility_check", sql`${t.visibility} in ('public', 'private')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
export type AuthMailTokenRow = typeof authMailTokens.$inferSelect;
export type SettingRow = typeof settings.$inferSelect;
export type SettingHistoryRow = typeof settingsHistory.$inferSelect;
export type AssetRow = typeof assets.$inferSelect;
