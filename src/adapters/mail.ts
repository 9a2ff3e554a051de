/**
 * The mail port: all the service needs from an email provider. Workers cannot open SMTP, so the
 * production adapter speaks an HTTP email API over fetch: Resend's `POST /emails` with a Bearer
 * key (https://resend.com/docs/api-reference/emails/send-email). `npm run dev` and the tests point
 * it at dev/mail-outbox.ts, which answers the same call and writes each message to a folder.
 */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** False when no transport is configured: `send` then drops the message (and says so once). */
  readonly configured: boolean;
  /** Resolves once the provider accepted the message; rejects on a refusal or timeout. */
  send(message: MailMessage): Promise<void>;
}

export interface HttpMailerOptions {
  /** Base URL of the API, without a trailing slash (`https://api.resend.com`). */
  apiUrl: string;
  apiKey: string;
  /** The sender, e.g. `App <no-reply@example.com>` on a domain verified with the provider. */
  from: string;
  timeoutMs: number;
}

/** Why a provider refused a message; the provider's body is kept short and never holds the key. */
export class MailError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "MailError";
    this.status = status;
  }
}

export function createHttpMailer(options: HttpMailerOptions): Mailer {
  return {
    configured: true,
    async send(message) {
      let response: Response;
      try {
        response = await fetch(`${options.apiUrl}/emails`, {
          method: "POST",
          headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
          body: JSON.stringify({ from: options.from, to: [message.to], ...pick(message) }),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        throw new MailError(`mail API unreachable: ${error instanceof Error ? error.name : "unknown"}`);
      }
      const detail = (await response.text().catch(() => "")).slice(0, 200);
      if (!response.ok) throw new MailError(`mail API answered ${response.status}: ${detail}`, response.status);
    },
  };
}

const pick = ({ subject, text, html }: MailMessage) => ({ subject, text, html });

// Said once per isolate (Workers have no start-up hook): a deployment without mail keeps working,
// but nobody can reset a password, and that must be visible in the logs.
let warnedUnconfigured = false;

/** The adapter for "no transport configured": nothing is sent. */
export function createDisabledMailer(warn: (message: string) => void): Mailer {
  return {
    configured: false,
    async send() {
      if (warnedUnconfigured) return;
      warnedUnconfigured = true;
      warn("mail is not configured (MAIL_API_KEY, MAIL_FROM): auth mails are not sent");
    },
  };
}
