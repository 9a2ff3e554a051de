/**
 * Emails are stored normalised (trimmed, lower-case) so the unique index on `users.email` is
 * case-insensitive. The accepted syntax is ASCII (zod's email check), where JS and Postgres agree
 * on lower-casing, which the table's check constraint relies on.
 */
export const EMAIL_MAX_LENGTH = 254;

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();
