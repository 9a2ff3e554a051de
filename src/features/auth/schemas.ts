import { z } from "@hono/zod-openapi";
import { validationFailed } from "../../core/problem.ts";
import { EMAIL_MAX_LENGTH } from "./email.ts";
import { PASSWORD_MAX_BYTES, passwordPolicyProblem } from "./password.ts";
import { storable } from "../../core/text.ts";

const Email = storable(z.email().max(EMAIL_MAX_LENGTH)).openapi({ example: "ada@example.com" });

/** A new password: the policy in password.ts (length in characters and bytes). */
const NewPassword = z
  .string()
  .max(PASSWORD_MAX_BYTES)
  .superRefine((value, ctx) => {
    const problem = passwordPolicyProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `Password ${problem}.` });
  })
  .openapi({ minLength: 8, maxLength: PASSWORD_MAX_BYTES, example: "correct horse battery staple" });

/**
 * At login only the size is bounded: an old password that predates the policy still signs in.
 * Passwords are hashed, never stored as text, so they take any character (unlike the storable fields).
 */
const AnyPassword = z.string().min(1).max(PASSWORD_MAX_BYTES);

/** The largest refresh token body we look at; ours are 43 characters. */
const RefreshToken = storable(z.string().min(1).max(256));

export const RegisterBody = z
  .object({
    email: Email,
    password: NewPassword,
    name: storable(z.string().trim().min(1).max(100)).optional(),
  })
  .openapi("RegisterRequest");

/**
 * At login the email is only looked up, so any `local@domain` shape is accepted: accounts made by
 * the seed script may use a dotless domain such as `admin@localhost`, which registration refuses.
 */
const LoginEmail = storable(
  z
    .string()
    .max(EMAIL_MAX_LENGTH)
    .regex(/^\s*[^\s@]+@[^\s@]+\s*$/, "Invalid email address"),
).openapi({ example: "ada@example.com" });

export const LoginBody = z.object({ email: LoginEmail, password: AnyPassword }).openapi("LoginRequest");

export const RefreshBody = z.object({ refreshToken: RefreshToken }).openapi("RefreshRequest");

export const Role = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, "A role is 1-32 characters: a-z first, then a-z, 0-9, _ or -.")
  .openapi({ example: "admin" });

export const RolesBody = z.object({ roles: z.array(Role).max(16) }).openapi("RolesRequest");

export const UserIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: "0b9f7c2e-8a4e-4c1e-9d1b-2f4c0f6a7e11" }),
});

/** `GET /v1/auth/me?fresh=`: `true` reads the row; absent or `false` answers from the token. */
export const MeFreshParameter = {
  name: "fresh",
  in: "query" as const,
  required: false,
  description:
    "`true`: the account row as Postgres has it now (one query). Default: the profile the access token carries, no I/O.",
  schema: { type: "string" as const, enum: ["true", "false"] },
};

export function meFreshness(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw validationFailed([{ path: "query.fresh", message: 'must be "true" or "false"' }]);
}

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string().nullable(),
    roles: z.array(z.string()),
    createdAt: z.iso.datetime(),
    emailVerified: z.boolean().openapi({ description: "Whether the address was proven by a mail link" }),
  })
  .openapi("User");

export const TokenPairSchema = z
  .object({
    user: UserSchema,
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().openapi({ description: "Access-token lifetime in seconds" }),
  })
  .openapi("TokenPair");

export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks");

// Issue #15: password reset, email verification, password change, sessions, admin user list.

/** A token from a mailed link; ours are 43 characters, anything else is refused as invalid. */
const MailToken = z.string().min(1).max(256).openapi({ example: "Q2hhbmdlIG1lIC0gdGhpcyBpcyBub3QgYSByZWFsIHRva2Vu" });

export const ForgotPasswordBody = z.object({ email: LoginEmail }).openapi("ForgotPasswordRequest");

export const ResetPasswordBody = z.object({ token: MailToken, password: NewPassword }).openapi("ResetPasswordRequest");

export const VerificationRequestBody = z.object({ email: LoginEmail }).openapi("VerificationRequest");

export const VerifyEmailBody = z.object({ token: MailToken }).openapi("VerifyEmailRequest");

export const ChangePasswordBody = z
  .object({ currentPassword: AnyPassword, newPassword: NewPassword })
  .openapi("ChangePasswordRequest");

export const PendingVerificationSchema = z
  .object({ user: UserSchema, emailVerificationRequired: z.literal(true) })
  .openapi("PendingVerification");

export const SessionSchema = z
  .object({
    id: z.uuid(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().openapi({ description: "The last sign-in or refresh of this session" }),
    userAgent: z.string().nullable(),
    clientPrefix: z
      .string()
      .nullable()
      .openapi({ description: "The client's /24 or /48 at sign-in", example: "203.0.113.0/24" }),
    current: z.boolean(),
  })
  .openapi("Session");

export const SessionListSchema = z.object({ items: z.array(SessionSchema) }).openapi("SessionList");

export const SessionIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: "5c1d6e1a-7d3e-4a59-9a51-0c8f0b7c2d10" }),
});

export const AdminUserSchema = UserSchema.extend({
  disabled: z.boolean(),
  externalIssuer: z.string().nullable(),
}).openapi("AdminUser");

export const UserListQuery = z.object({
  q: z.string().max(EMAIL_MAX_LENGTH).optional().openapi({ description: "Substring of the email" }),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional().openapi({ description: "nextCursor of the previous page" }),
});

export const UserPageSchema = z
  .object({ items: z.array(AdminUserSchema), nextCursor: z.string().nullable() })
  .openapi("UserPage");

export const DisabledBody = z.object({ disabled: z.boolean() }).openapi("DisabledRequest");
