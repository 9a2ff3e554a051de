import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";

/**
 * Whether a session (refresh-token family, the `sid` claim) was revoked. Sensitive routes and
 * WebSocket connects call this; ordinary reads stay I/O-free.
 * Placeholder until the auth feature lands: nothing is revoked.
 */
export async function isSessionRevoked(_deps: Deps, _config: Config, _sessionId: string): Promise<boolean> {
  return false;
}
