// Session revocation across linked instances: the instance that revokes a session records it (so a
// connect that races the revocation on any instance is refused) and announces it on the control
// channel, and every instance closes the session's sockets it holds.
import type { LinkRedis } from "./redis-link.ts";

/** As long as the in-process rooms remember a revocation (longer than any access token lives). */
export const REVOKED_SESSION_TTL_MS = 24 * 3600 * 1000;

export interface SessionRevocations {
  /** Records the revocation and tells every instance (this one included) to close the session's sockets. */
  revoke(sessionId: string): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
  /** `listener` runs on every instance for every revocation announced while it is subscribed. */
  onRevoke(listener: (sessionId: string) => void): Promise<void>;
}

export function createSessionRevocations(redis: LinkRedis, options: { prefix: string }): SessionRevocations {
  const key = (sessionId: string) => `${options.prefix}rooms:revoked:${sessionId}`;
  const channel = `${options.prefix}rooms:control:revoke`;
  return {
    async revoke(sessionId) {
      await redis.command(["SET", key(sessionId), "1", "PX", String(REVOKED_SESSION_TTL_MS)]);
      await redis.command(["PUBLISH", channel, sessionId]);
    },
    async isRevoked(sessionId) {
      return Number(await redis.command(["EXISTS", key(sessionId)])) === 1;
    },
    async onRevoke(listener) {
      await redis.subscribe(channel, listener);
    },
  };
}
