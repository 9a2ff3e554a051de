// Scheduled jobs run once per interval across linked instances, as one Cron Trigger does on Workers:
// each instance's timer asks for the interval's lease, and only the one that gets it runs the jobs.
// The lease is a key set with NX and a time-to-live of one interval, so it needs no release: a
// holder that dies mid-run only delays the next run to the next interval.
import type { LinkRedis } from "./redis-link.ts";

export interface FleetLease {
  /** True for exactly one caller per `name` and interval across the fleet; false for the others. */
  acquire(name: string, intervalMs: number): Promise<boolean>;
}

export function createFleetLease(redis: LinkRedis, options: { prefix: string; instanceId: string }): FleetLease {
  return {
    async acquire(name, intervalMs) {
      // A little under the interval, so the holder's own next tick finds the lease free again even
      // when its timer fires a few milliseconds early.
      const ttl = Math.max(1, Math.floor(intervalMs * 0.95));
      const reply = await redis.command([
        "SET",
        `${options.prefix}jobs:lease:${name}`,
        options.instanceId,
        "NX",
        "PX",
        String(ttl),
      ]);
      return reply === "OK";
    },
  };
}
