import { ProblemError } from "../../core/problem.ts";

// The auth feature's own problems. Credentials problems carry no WWW-Authenticate: they answer a
// body the client sent, not a bearer token.

/** One answer for "no such account" and "wrong password" (no account enumeration through login). */
export const invalidCredentials = () =>
  new ProblemError({
    status: 401,
    type: "invalid-credentials",
    title: "Invalid credentials",
    detail: "The email or password is incorrect.",
  });

export const invalidRefreshToken = () =>
  new ProblemError({
    status: 401,
    type: "invalid-refresh-token",
    title: "Invalid refresh token",
    detail: "The refresh token is unknown, expired, spent or revoked. Sign in again.",
  });

export const emailTaken = () =>
  new ProblemError({
    status: 409,
    type: "email-taken",
    title: "Email taken",
    detail: "An account with this email already exists.",
  });

export const rateLimited = (retryAfterSeconds: number) =>
  new ProblemError({
    status: 429,
    type: "rate-limited",
    detail: `Too many attempts. Try again in ${retryAfterSeconds} s.`,
    headers: { "Retry-After": String(retryAfterSeconds) },
  });

export const lastAdmin = () =>
  new ProblemError({
    status: 409,
    type: "last-admin",
    title: "Last admin",
    detail: "This would leave no admin. Give another account the admin role first.",
  });

/** A password-reset or verification token that is unknown, expired or spent: one answer for all. */
export const invalidMailToken = () =>
  new ProblemError({
    status: 400,
    type: "invalid-mail-token",
    title: "Invalid or expired link",
    detail: "This link is invalid, expired or was already used. Ask for a new one.",
  });

/** Only after the password matched, so it tells nothing to someone who does not know it. */
export const emailNotVerified = () =>
  new ProblemError({
    status: 403,
    type: "email-not-verified",
    title: "Email not verified",
    detail: "Confirm your email address first: POST /v1/auth/email/verification sends a new link.",
  });

export const accountDisabled = () =>
  new ProblemError({
    status: 403,
    type: "account-disabled",
    title: "Account disabled",
    detail: "This account was disabled by an administrator.",
  });

/** Password change with a wrong current password; 403, not 401, since the bearer token is fine. */
export const wrongCurrentPassword = () =>
  new ProblemError({
    status: 403,
    type: "wrong-current-password",
    title: "Wrong current password",
    detail: "The current password is incorrect.",
  });

export const cannotDisableSelf = () =>
  new ProblemError({
    status: 409,
    type: "cannot-disable-self",
    title: "Cannot disable yourself",
    detail: "An admin cannot disable their own account.",
  });
