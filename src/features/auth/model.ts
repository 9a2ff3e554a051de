import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import type { Mailer } from "../../adapters/mail.ts";
import type { SessionDevice } from "./sessions.ts";
import type { PublicUser } from "./users.ts";

/**
 * The auth feature's types and limits, no I/O. The service functions (service.ts,
 * account-recovery.ts, admin-users.ts) all take an AuthContext first; wiring.ts builds it.
 */

/** What every auth operation runs with. `client` is the caller's rate-limit bucket. */
export interface AuthContext {
  deps: Deps;
  config: Config;
  log: Logger;
  client: string;
  /** Where the request came from, recorded on a new session (the sessions list shows it). */
  device?: SessionDevice;
  /** The request's origin when it can be trusted (on Workers: the routed host), for mail links. */
  linkBase?: string | undefined;
  /** The mail transport; built from config when absent. */
  mail?: Mailer;
}

export interface RegisterInput {
  email: string;
  password: string;
  name?: string | undefined;
}

export interface LoginInput {
  email: string;
  password: string;
}

export interface TokenPair {
  user: PublicUser;
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

/** Registration while `auth.require-verified-email` is on: no tokens until the address is confirmed. */
export interface PendingVerification {
  user: PublicUser;
  emailVerificationRequired: true;
}

/** One sign-in (refresh-token family) as its owner sees it. */
export interface SessionInfo {
  id: string;
  createdAt: string;
  /** The last sign-in or refresh: access tokens are verified without I/O, so their use is not seen. */
  lastUsedAt: string;
  userAgent: string | null;
  /** The client's /24 or /48 at sign-in, never the full address. */
  clientPrefix: string | null;
  /** The session of the access token that asked. */
  current: boolean;
}

/** The sessions list shows at most this many (newest first); older ones still work. */
export const MAX_LISTED_SESSIONS = 100;
/** User-Agent headers are stored cut to this length. */
export const USER_AGENT_MAX_CHARS = 256;
