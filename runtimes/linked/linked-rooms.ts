// Realtime for linked instances off Workers (REDIS_URL set): N Node, Deno or Bun processes behind a
// load balancer, without sticky sessions, are one realtime service. Each room is the same room core
// as everywhere (durable/room-core.ts) over a host holding this instance's sockets, with a shared
// log: the room's Redis Stream (room-log.ts) assigns the seqs, one append script call per tick, and
// the feed (room-feed.ts) delivers every instance's appends to this instance's members in seq order.
// Presence and connection limits are summed across instances by the registry (presence-registry.ts),
// revocations reach every instance through the control channel (session-revocations.ts).
import { newAttachment } from "../../durable/attachment.ts";
import type { ConnectRequest } from "../../durable/connect-request.ts";
import { SERVER_SENDER_ID } from "../../durable/connect-request.ts";
import type { SharedRoomLog } from "../../durable/room-core.ts";
import type { RoomLimits } from "../../durable/room-limits.ts";
import { CLOSE_CODES } from "../../protocol/frames.ts";
import { type ConnectOutcome, type RoomGateway, RoomPublishRefusedError } from "../../src/adapters/rooms.ts";
import type { Logger } from "../../common/logger.ts";
import { InProcessRoom, type SocketUpgrader } from "../in-process-room.ts";
import type { LocalRooms } from "../local-rooms.ts";
import { createPresenceRegistry, type PresenceRegistry } from "./presence-registry.ts";
import type { LinkRedis } from "./redis-link.ts";
import { createRoomFeed, type RoomFeed } from "./room-feed.ts";
import { createLinkedRoomLog, type LinkedRoomLog } from "./room-log.ts";
import { createSessionRevocations, REVOKED_SESSION_TTL_MS, type SessionRevocations } from "./session-revocations.ts";

export interface LinkedRoomsOptions {
  limits: RoomLimits;
  log: Logger;
  redis: LinkRedis;
  /** REDIS_KEY_PREFIX: every key and channel of the link lives under it. */
  prefix: string;
  instanceId: string;
  /**
   * An instance that stops heartbeating (killed) still counts this long; its members' leave reaches
   * the others within about leaseMs + one heartbeat (leaseMs / 3) + one presence interval.
   */
  leaseMs: number;
}

/** A handshake that never opened (the client went away) gives its admission back after this long. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A room without sockets here is forgotten (unfollowed) once idle this long. */
const IDLE_ROOM_MS = 30_000;

interface Parts {
  roomLog: LinkedRoomLog;
  feed: RoomFeed;
  registry: PresenceRegistry;
  revocations: SessionRevocations;
}

/** One room on this instance: the in-process host over this instance's sockets of it, and the shared log. */
class LinkedRoom extends InProcessRoom {
  /** This instance's admissions in the registry, by user (sockets open or still in the handshake). */
  readonly counted = new Map<string, number>();
  following: Promise<void> | undefined;
  syncing: Promise<void> | undefined;
  syncAgain = false;

  constructor(
    name: string,
    log: SharedRoomLog,
    limits: RoomLimits,
    logger: Logger,
    onDropped: (userId: string) => void,
  ) {
    super(name, { limits, logger, sharedLog: log, onDropped: (a) => onDropped(a.userId) });
  }

  idle(now: number): boolean {
    return this.sockets.size === 0 && this.counted.size === 0 && now - this.lastActive > IDLE_ROOM_MS;
  }
}

/** This instance's linked rooms, upgraded through `upgrader`. Redis faults degrade (503s), never crash. */
export function createLinkedRooms(upgrader: SocketUpgrader, options: LinkedRoomsOptions): LocalRooms {
  const { limits, log, redis, prefix } = options;
  const rooms = new Map<string, LinkedRoom>();
  // Revocations heard on the control channel, so a handshake finishing after one is refused here too.
  const revokedHere = new Map<string, number>();
  const presenceChannel = `${prefix}rooms:control:presence`;

  const parts: Promise<Parts> = (async () => {
    const retention = {
      maxMessages: limits.ROOM_RETENTION_MESSAGES,
      maxAgeMs: limits.ROOM_RETENTION_SECONDS * 1000,
      maxBytes: limits.ROOM_RETENTION_BYTES,
    };
    const roomLog = await createLinkedRoomLog(redis, { prefix, retention });
    const registry = await createPresenceRegistry(redis, {
      prefix,
      instanceId: options.instanceId,
      leaseMs: options.leaseMs,
    });
    const revocations = createSessionRevocations(redis, { prefix });
    const feed = createRoomFeed({ log: roomLog, redis, logger: log });
    return { roomLog, feed, registry, revocations };
  })();
  // Subscriptions wait for the link (node-redis rejects them while it is down); retried on reconnect.
  const subscribeControl = async () => {
    const { revocations } = await parts;
    await redis.whenReady();
    await revocations.onRevoke((sessionId) => {
      revokedHere.set(sessionId, Date.now() + REVOKED_SESSION_TTL_MS);
      for (const r of rooms.values()) r.core.closeSession(sessionId);
    });
    await redis.subscribe(presenceChannel, (name) => {
      const r = rooms.get(name);
      if (r && r.counted.size > 0) syncPresence(r);
    });
  };
  subscribeControl().catch((error: unknown) => log.error("linked rooms: control channels failed", { error }));

  const room = (name: string, roomLog: LinkedRoomLog): LinkedRoom => {
    let found = rooms.get(name);
    if (!found) {
      const shared: SharedRoomLog = {
        appendBatch: (publishes) => roomLog.append(name, [...publishes]),
        read: (since, limit) => roomLog.read(name, since, limit),
      };
      const created: LinkedRoom = new LinkedRoom(name, shared, limits, log, (userId) => release(created, userId));
      found = created;
      rooms.set(name, found);
    }
    found.lastActive = Date.now();
    return found;
  };

  const announce = (name: string): void => {
    redis.command(["PUBLISH", presenceChannel, name]).catch((error: unknown) => {
      log.warn("linked rooms: presence announcement failed; the heartbeat carries it", { error });
    });
  };

  /** States this instance's members to the registry and takes in everyone else's. Coalesced per room. */
  const syncPresence = (r: LinkedRoom): void => {
    if (r.syncing) {
      r.syncAgain = true;
      return;
    }
    r.syncing = (async () => {
      const { registry } = await parts;
      const fleet = await registry.sync(r.name, r.counted);
      const remote = new Map<string, number>();
      for (const u of fleet.users) {
        const elsewhere = u.connections - (r.counted.get(u.id) ?? 0);
        if (elsewhere > 0) remote.set(u.id, elsewhere);
      }
      r.core.setRemotePresence(remote);
      if (fleet.left.length > 0) announce(r.name);
    })()
      .catch((error: unknown) => log.warn("linked rooms: presence sync failed", { room: r.name, error }))
      .finally(() => {
        r.syncing = undefined;
        if (r.syncAgain) {
          r.syncAgain = false;
          syncPresence(r);
        }
      });
  };

  const count = (r: LinkedRoom, userId: string, delta: number): void => {
    const n = (r.counted.get(userId) ?? 0) + delta;
    if (n > 0) r.counted.set(userId, n);
    else r.counted.delete(userId);
  };

  /** Gives an admission back; a user gone from the whole fleet is announced to the other instances. */
  function release(r: LinkedRoom, userId: string): void {
    if (!r.counted.has(userId)) return;
    count(r, userId, -1);
    r.lastActive = Date.now();
    parts
      .then(({ registry }) => registry.release(r.name, userId))
      .then((left) => {
        if (left) announce(r.name);
      })
      .catch((error: unknown) => log.warn("linked rooms: release failed; the heartbeat corrects it", { error }));
  }

  /** Starts delivering the room's appends to this instance (once; retried after a failure). */
  const follow = (r: LinkedRoom, p: Parts): Promise<void> => {
    r.following ??= (async () => {
      const { latestSeq } = await p.roomLog.read(r.name, 0, 1);
      r.core.startDelivery(latestSeq);
      await p.feed.follow(r.name, latestSeq, (frames, lastSeq) => r.core.deliver(frames, lastSeq));
    })().catch((error: unknown) => {
      r.following = undefined;
      r.core.stopDelivery();
      void p.feed.unfollow(r.name);
      throw error;
    });
    return r.following;
  };

  const isRevokedHere = (sessionId: string): boolean => (revokedHere.get(sessionId) ?? 0) > Date.now();

  // The heartbeat: every room with members here renews this instance's lease and re-reads the fleet;
  // idle rooms are forgotten.
  const heartbeat = setInterval(
    () => {
      const now = Date.now();
      for (const [id, until] of revokedHere) if (until <= now) revokedHere.delete(id);
      for (const r of rooms.values()) {
        if (r.counted.size > 0) syncPresence(r);
        else if (r.idle(now)) {
          rooms.delete(r.name);
          r.core.stopDelivery();
          r.close();
          void parts.then((p) => p.feed.unfollow(r.name)).catch(() => {});
        }
      }
    },
    Math.max(100, Math.floor(options.leaseMs / 3)),
  );
  heartbeat.unref?.();
  redis.onReconnect(() => {
    for (const r of rooms.values()) if (r.counted.size > 0) syncPresence(r);
    subscribeControl().catch((error: unknown) => log.error("linked rooms: control channels failed", { error }));
  });

  const gateway: RoomGateway = {
    // connect() asks the fleet's revocation set in Redis (session-revocations.ts).
    knowsRevocations: true,
    async publish(name, data) {
      const p = await parts;
      const outcome = await room(name, p.roomLog).core.publish({ from: SERVER_SENDER_ID, data });
      if (!outcome.ok) throw new RoomPublishRefusedError(name, outcome.reason);
      return { seq: outcome.seq };
    },
    async publishAs(name, request) {
      const p = await parts;
      return room(name, p.roomLog).core.publish(request);
    },
    async history(name, since, limit) {
      const p = await parts;
      return room(name, p.roomLog).core.readHistory(since, limit);
    },
    async presence(name) {
      const { registry } = await parts;
      const { users } = await registry.read(name);
      return { users };
    },
    async disconnectSession(_userId, sessionId) {
      const { revocations } = await parts;
      revokedHere.set(sessionId, Date.now() + REVOKED_SESSION_TTL_MS);
      for (const r of rooms.values()) r.core.closeSession(sessionId);
      await revocations.revoke(sessionId);
    },
    async disconnectSessions(sessions) {
      for (const { userId, sessionId } of sessions) await gateway.disconnectSession(userId, sessionId);
    },
    async connect(request: ConnectRequest, upgrade: Request): Promise<ConnectOutcome> {
      const p = await parts;
      if (isRevokedHere(request.sessionId) || (await p.revocations.isRevoked(request.sessionId))) {
        return { ok: false, refusal: "session_revoked" };
      }
      const target = room(request.room, p.roomLog);
      const admission = await p.registry.admit(request.room, request.userId, {
        maxConnections: limits.ROOM_MAX_CONNECTIONS,
        maxPerUser: limits.ROOM_MAX_CONNECTIONS_PER_USER,
      });
      if (!admission.ok) return { ok: false, refusal: admission.refusal };
      count(target, request.userId, 1);
      if (admission.joined || admission.left.length > 0) announce(request.room);
      try {
        await follow(target, p);
      } catch (error) {
        release(target, request.userId);
        throw error;
      }
      const attachment = newAttachment(request);
      let opened = false;
      const response = upgrader.upgrade(upgrade, (socket) => {
        opened = true;
        if (isRevokedHere(request.sessionId)) {
          release(target, request.userId);
          socket.close(CLOSE_CODES.sessionRevoked, "revoked");
          return { message: () => {}, closed: () => {} };
        }
        return target.open(socket, attachment, request.since);
      });
      if (!response) {
        release(target, request.userId);
        return { ok: false, refusal: "bad_request" };
      }
      setTimeout(() => {
        if (!opened) release(target, request.userId);
      }, HANDSHAKE_TIMEOUT_MS).unref?.();
      return { ok: true, response };
    },
  };

  return {
    gateway,
    async close() {
      clearInterval(heartbeat);
      const leaving = [...rooms.values()].filter((r) => r.counted.size > 0).map((r) => r.name);
      for (const r of rooms.values()) r.close();
      rooms.clear();
      // A graceful stop leaves presence at once instead of after the lease (best effort).
      const p = await parts.catch(() => undefined);
      if (!p) return;
      await Promise.allSettled(
        leaving.map(async (name) => {
          await p.registry.sync(name, new Map());
          await redis.command(["PUBLISH", presenceChannel, name]);
        }),
      );
    },
  };
}
