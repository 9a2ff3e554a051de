// Reconnect churn leaves nothing behind in an in-process room (the host of local-rooms.ts and the
// linked rooms): after many sockets came and went, the room's socket Map and every structure of the
// core hold only what is open now. test/workers/rooms-churn.test.ts asserts the same of the Durable Object.
import { describe, expect, it } from "vitest";
import { newAttachment } from "../durable/attachment.ts";
import { parseRoomLimits } from "../durable/room-limits.ts";
import { createLogger } from "../common/logger.ts";
import { InProcessRoom, type RoomSocket, type SocketEvents } from "./in-process-room.ts";

interface FakeSocket extends RoomSocket {
  frames: Array<Record<string, unknown>>;
  events: SocketEvents;
}

const fakeSocket = (): FakeSocket => ({
  frames: [],
  events: { message: () => {}, closed: () => {} },
  send(text) {
    this.frames.push(JSON.parse(text) as Record<string, unknown>);
  },
  close(code) {
    this.events.closed(code);
  },
  bufferedAmount: () => 0,
});

/** Resolves on the room's next tick having run (its frames are sent from a timer). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("in-process room under reconnect churn", () => {
  it("keeps its memory bounded by the sockets open now, not by how many came and went", async () => {
    const room = new InProcessRoom("churn", { limits: parseRoomLimits({}), logger: createLogger("error") });
    const open = (userId: string, sessionId: string) => {
      const socket = fakeSocket();
      const attachment = newAttachment({ room: "churn", userId, sessionId, canPublish: true });
      socket.events = room.open(socket, attachment, 0);
      return socket;
    };
    const observer = open("observer", "s-observer");
    const rounds = 50;
    for (let round = 0; round < rounds; round++) {
      const sockets = [open("regular-1", "s1"), open("regular-2", "s2"), open(`passer-${round}`, `s-p${round}`)];
      for (const [i, s] of sockets.entries()) {
        s.events.message(JSON.stringify({ type: "publish", data: { round, i }, id: `${round}-${i}` }));
      }
      // Wait for the tick that stores and acks them (an event: the ack frames), then leave.
      while (!sockets.every((s) => s.frames.some((f) => f.type === "ack"))) await nextTurn();
      for (const s of sockets) s.events.closed(1000);
    }
    expect(room.sockets.size).toBe(1);
    expect(room.core.footprint()).toMatchObject({
      connections: 1,
      users: 1,
      buckets: 0,
      queuedPublishes: 0,
      replaying: 0,
      waitingAcks: 0,
      remoteUsers: 0,
    });
    // At most the users who changed since the last diff: never one per departed socket.
    expect(room.core.footprint().changedUsers).toBeLessThanOrEqual(2 + rounds);
    expect(observer.frames.some((f) => f.type === "error")).toBe(false);
    room.close();
  });
});
