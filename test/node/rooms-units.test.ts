// The rooms' pure pieces, in Node: the same modules the room object and the SDK run.
import { describe, expect, it } from "vitest";
import { resumePoint } from "../../durable/message-log.ts";
import { Presence } from "../../durable/presence.ts";
import { fullBucket, takeToken } from "../../durable/rate-limit.ts";
import { parseRoomLimits } from "../../durable/room-limits.ts";
import { parseClientFrame, parseServerFrame } from "../../protocol/frames.ts";
import { roomAllows } from "../../src/features/rooms/model.ts";

const principal = (userId: string, roles = ["user"]) => ({ userId, roles, sessionId: "s", tokenId: "t", expiresAt: 0 });

describe("resume point", () => {
  it("resumes right after since when nothing after it was pruned", () => {
    expect(resumePoint(5, 10, 6)).toEqual({ from: 5, resync: false });
    expect(resumePoint(10, 10, 6)).toEqual({ from: 10, resync: false });
    expect(resumePoint(0, 0, 1)).toEqual({ from: 0, resync: false });
  });

  it("resyncs from the oldest retained when messages after since are gone, or since is ahead", () => {
    expect(resumePoint(4, 10, 6)).toEqual({ from: 5, resync: true });
    expect(resumePoint(11, 10, 6)).toEqual({ from: 5, resync: true });
    expect(resumePoint(0, 10, 11)).toEqual({ from: 10, resync: true });
  });
});

describe("presence", () => {
  it("counts a user's connections and reports join and leave only at the edges", () => {
    const p = new Presence();
    expect(p.add("c1", "u1")).toBe(true);
    expect(p.add("c2", "u1")).toBe(false);
    expect(p.add("c2", "u1")).toBe(false);
    expect(p.add("c3", "u0")).toBe(true);
    expect(p.users()).toEqual([
      { id: "u0", connections: 1 },
      { id: "u1", connections: 2 },
    ]);
    expect(p.remove("c1")).toBeUndefined();
    expect(p.remove("c1")).toBeUndefined();
    expect(p.remove("c2")).toBe("u1");
    expect(p.connectionCount).toBe(1);
  });

  it("keeps its encoded member list equal to JSON.stringify(users()) through joins, tabs and leaves", () => {
    const p = new Presence();
    const check = () => {
      expect(p.encodedUsers()).toBe(JSON.stringify(p.users()));
      expect(p.syncFrame()).toBe(JSON.stringify({ type: "presence", action: "sync", users: p.users() }));
      expect(p.users().map((u) => u.id)).toEqual(
        p
          .users()
          .map((u) => u.id)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    };
    check();
    const ids = ["m", "b", 'q"uote', "a", "\\back", "Z", "é", "b2"];
    ids.forEach((id, i) => {
      p.add(`c${i}`, id);
      check();
    });
    p.add("extra", "m");
    check();
    expect(p.users().find((u) => u.id === "m")?.connections).toBe(2);
    p.remove("c0");
    check();
    p.remove("c1");
    p.remove("c3");
    check();
    expect(p.users().map((u) => u.id)).not.toContain("b");
    expect(JSON.parse(p.encodedUsers())).toEqual(p.users());
  });
});

describe("token bucket", () => {
  it("allows a burst, then refuses with the wait until the next token", () => {
    const limit = { ratePerSecond: 10, burst: 3 };
    const bucket = fullBucket(limit, 0);
    expect([1, 2, 3].map(() => takeToken(bucket, limit, 0).ok)).toEqual([true, true, true]);
    expect(takeToken(bucket, limit, 0)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(takeToken(bucket, limit, 100).ok).toBe(true);
    expect(takeToken(bucket, limit, 10_000).ok).toBe(true);
    expect(bucket.tokens).toBe(2);
  });
});

describe("room limits", () => {
  it("defaults every limit and refuses a bad value naming the key", () => {
    expect(parseRoomLimits({})).toMatchObject({ ROOM_RETENTION_MESSAGES: 1000, ROOM_MAX_FRAME_BYTES: 65536 });
    expect(parseRoomLimits({ ROOM_RETENTION_MESSAGES: "5" }).ROOM_RETENTION_MESSAGES).toBe(5);
    expect(() => parseRoomLimits({ ROOM_MAX_CONNECTIONS: "40000" })).toThrow(/ROOM_MAX_CONNECTIONS/);
    expect(() => parseRoomLimits({ ROOM_RETENTION_BYTES: "65536" })).toThrow(/ROOM_RETENTION_BYTES/);
  });
});

describe("protocol", () => {
  it("parses the frames of the contract and refuses anything else", () => {
    expect(parseServerFrame('{"type":"presence","action":"sync","users":[{"id":"u","connections":2}]}').ok).toBe(true);
    expect(parseServerFrame('{"type":"message","seq":1,"from":{"id":"u"},"data":null,"ts":1}').ok).toBe(true);
    expect(parseServerFrame('{"type":"presence","action":"wave","user":{"id":"u"}}').ok).toBe(false);
    expect(parseClientFrame('{"type":"publish","data":{"a":1},"id":"x"}')).toEqual({
      ok: true,
      frame: { type: "publish", data: { a: 1 }, id: "x" },
    });
    expect(parseClientFrame('{"type":"publish"}')).toMatchObject({
      ok: false,
      reason: expect.stringContaining("data"),
    });
    expect(parseClientFrame("nope")).toEqual({ ok: false, reason: "not JSON" });
  });
});

describe("room rules", () => {
  it("applies the system, user:, admin: and open-room rules", () => {
    const user = principal("u1");
    const admin = principal("a1", ["user", "admin"]);
    expect(roomAllows("system", user, "read")).toBe(true);
    expect(roomAllows("system", user, "publish-http")).toBe(false);
    expect(roomAllows("system", admin, "publish-http")).toBe(true);
    expect(roomAllows("system", admin, "publish-socket")).toBe(false);
    expect(roomAllows("user:u1", user, "publish-socket")).toBe(true);
    expect(roomAllows("user:u2", user, "read")).toBe(false);
    expect(roomAllows("user:u2", admin, "read")).toBe(false);
    expect(roomAllows("admin:ops", user, "read")).toBe(false);
    expect(roomAllows("admin:ops", admin, "publish-socket")).toBe(true);
    expect(roomAllows("lobby", user, "publish-socket")).toBe(true);
  });
});
