import { createDisabledMailer, createHttpMailer, type MailMessage, type Mailer } from "../../adapters/mail.ts";
import type { Config } from "../../core/config.ts";
import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";

/** The mail transport the config describes: the HTTP email API, or none (nothing is sent). */
export function mailerFor(config: Config, log: Logger): Mailer {
  if (!config.MAIL_API_KEY || !config.MAIL_FROM) return createDisabledMailer((message) => log.warn(message));
  return createHttpMailer({
    apiUrl: config.MAIL_API_URL,
    apiKey: config.MAIL_API_KEY,
    from: config.MAIL_FROM,
    timeoutMs: config.MAIL_TIMEOUT_MS,
  });
}

/**
 * Sends after the response (waitUntil): the answer must not wait for, or reveal anything through,
 * the provider's latency. A failure is logged without the message (its text holds a token).
 */
export function sendInBackground(mailer: Mailer, background: BackgroundTasks, log: Logger, message: MailMessage): void {
  // Started on the next turn, so not even the request's first bytes go out before the response does.
  background.waitUntil(
    new Promise((resolve) => setTimeout(resolve, 0))
      .then(() => mailer.send(message))
      .catch((error: unknown) => log.error("sending an auth mail failed", { subject: message.subject, error })),
  );
}
