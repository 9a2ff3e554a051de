// Live delivery of a linked room's log to this instance: the room's channel carries every append,
// and the log fills what the channel lost (pub/sub is at-most-once: a dropped connection, or a
// subscription that started after an append). Each room's frames reach `deliver` exactly once, in
// sequence order, without gaps, whichever instance appended them.
import type { Logger } from "../../common/logger.ts";
import { type LinkedRoomLog, parseLiveBatch } from "./room-log.ts";
import type { LinkRedis } from "./redis-link.ts";

export interface RoomFeedOptions {
  log: LinkedRoomLog;
  redis: LinkRedis;
  logger: Logger;
  /** Frames read from the log per catch-up request. */
  catchUpPage?: number;
}

export interface RoomFeed {
  /**
   * Starts delivering the room's messages after `after` (the seq this instance last delivered or
   * replayed). `deliver` gets batches of frames in order; calling again replaces nothing.
   */
  follow(room: string, after: number, deliver: (frames: string[], lastSeq: number) => void): Promise<void>;
  /** Stops following (the instance has no member left in the room). */
  unfollow(room: string): Promise<void>;
  /** The last seq delivered for a followed room. */
  deliveredSeq(room: string): number | undefined;
}

interface Followed {
  delivered: number;
  deliver: (frames: string[], lastSeq: number) => void;
  /** Deliveries for a room run one after another, so a catch-up never races a live batch. */
  chain: Promise<void>;
}

const DEFAULT_CATCH_UP_PAGE = 500;

export function createRoomFeed(options: RoomFeedOptions): RoomFeed {
  const { log, redis, logger } = options;
  const page = options.catchUpPage ?? DEFAULT_CATCH_UP_PAGE;
  const rooms = new Map<string, Followed>();

  const enqueue = (room: string, work: (f: Followed) => Promise<void> | void): void => {
    const followed = rooms.get(room);
    if (!followed) return;
    followed.chain = followed.chain
      .then(() => (rooms.get(room) === followed ? work(followed) : undefined))
      .catch((error: unknown) =>
        logger.warn("linked room delivery failed; the next append catches up", { room, error }),
      );
  };

  /** Reads and delivers everything after what was delivered (bounded pages). */
  const catchUp = async (room: string, followed: Followed): Promise<void> => {
    for (;;) {
      const { messages, latestSeq, oldestSeq } = await log.read(room, followed.delivered, page);
      if (messages.length === 0) {
        // Everything after `delivered` was pruned (or nothing is new): jump, the members resync on resume.
        if (latestSeq > followed.delivered && oldestSeq > latestSeq) followed.delivered = latestSeq;
        return;
      }
      followed.delivered = (messages[messages.length - 1] as { seq: number }).seq;
      followed.deliver(
        messages.map((m) => m.frame),
        followed.delivered,
      );
      if (messages.length < page) return;
    }
  };

  const onPayload = (room: string, payload: string): void => {
    const batch = parseLiveBatch(payload);
    if (!batch) return;
    enqueue(room, async (followed) => {
      const last = batch.firstSeq + batch.frames.length - 1;
      if (last <= followed.delivered) return; // already delivered (a catch-up got there first)
      if (batch.firstSeq > followed.delivered + 1) {
        await catchUp(room, followed); // the channel lost something: the log has it
        return;
      }
      const fresh = batch.frames.slice(followed.delivered + 1 - batch.firstSeq);
      followed.delivered = last;
      followed.deliver(fresh, last);
    });
  };

  redis.onReconnect(() => {
    for (const [room, followed] of rooms) enqueue(room, () => catchUp(room, followed));
  });

  return {
    async follow(room, after, deliver) {
      if (rooms.has(room)) return;
      const followed: Followed = { delivered: after, deliver, chain: Promise.resolve() };
      rooms.set(room, followed);
      await redis.subscribe(log.channelOf(room), (payload) => onPayload(room, payload));
      // Appends between `after` and the subscription are in the log, not on the channel.
      enqueue(room, () => catchUp(room, followed));
      await followed.chain;
    },
    async unfollow(room) {
      if (!rooms.delete(room)) return;
      await redis.unsubscribe(log.channelOf(room)).catch((error: unknown) => {
        logger.warn("linked room unsubscribe failed", { room, error });
      });
    },
    deliveredSeq: (room) => rooms.get(room)?.delivered,
  };
}
