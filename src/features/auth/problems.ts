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
