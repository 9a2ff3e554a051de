import { env } from "cloudflare:test";
import { configFor } from "../../../src/core/config.ts";

/**
 * Reads the local mail outbox (dev/mail-outbox.ts) that test/global-setup.ts starts and the Worker
 * sends to. Mail goes out in waitUntil, after the response, so readers wait for it to arrive.
 */
export interface OutboxMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

const config = configFor(env);

export async function mailsTo(address: string): Promise<OutboxMessage[]> {
  const res = await fetch(`${config.MAIL_API_URL}/emails?to=${encodeURIComponent(address)}`, {
    headers: { Authorization: `Bearer ${config.MAIL_API_KEY}` },
  });
  if (!res.ok) throw new Error(`outbox answered ${res.status}`);
  return ((await res.json()) as { data: OutboxMessage[] }).data;
}

/** Waits until `address` has received `count` mails (default: one more than it has now is the caller's job). */
export async function waitForMails(address: string, count: number, timeoutMs = 5_000): Promise<OutboxMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await mailsTo(address);
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) throw new Error(`expected ${count} mail(s) to ${address}, got ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The token of the link in a mail's text (`...?token=<43 chars>`). */
export function tokenIn(mail: OutboxMessage): string {
  const match = /[?&]token=([A-Za-z0-9_-]{43})\b/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no token link in mail "${mail.subject}"`);
  return match[1];
}
