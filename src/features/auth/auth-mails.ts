import type { MailMessage } from "../../adapters/mail.ts";
import { MAIL_TOKEN_TTL_SECONDS } from "./mail-tokens.ts";

/**
 * The mails auth sends. Links go to the app (AUTH_LINK_BASE_URL), whose page reads `token` from
 * the query and calls the API; the token is in the query, not the path, so the app's router does
 * not need to know its shape.
 */
const MINUTES = MAIL_TOKEN_TTL_SECONDS / 60;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function linkMail(to: string, subject: string, intro: string, action: string, link: string): MailMessage {
  const outro = `The link works once and expires in ${MINUTES} minutes. If you did not ask for this, ignore this mail.`;
  return {
    to,
    subject,
    text: `${intro}\n\n${action}: ${link}\n\n${outro}\n`,
    html: `<p>${escapeHtml(intro)}</p><p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p><p>${escapeHtml(outro)}</p>`,
  };
}

const withToken = (base: string, page: string, token: string): string =>
  `${base}/${page}?token=${encodeURIComponent(token)}`;

export const passwordResetMail = (to: string, base: string, token: string): MailMessage =>
  linkMail(
    to,
    "Reset your password",
    "Someone (hopefully you) asked to reset the password of this account.",
    "Choose a new password",
    withToken(base, "reset-password", token),
  );

export const verificationMail = (to: string, base: string, token: string): MailMessage =>
  linkMail(
    to,
    "Confirm your email address",
    "Confirm that this address belongs to your account.",
    "Confirm the address",
    withToken(base, "verify-email", token),
  );
