// The linked room log and feed against the machine's real Redis (TEST_REDIS_URL), each run under its
// own key prefix, removed afterwards: the Redis is shared with other runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/logger.ts";
import { createFleetLease } from "../../runtimes/linked/fleet-lease.ts";
import { createPresenceRegistry } from "../../runtimes/linked/presence-registry.ts";
import { openLinkRedis, type LinkRedis, parseRedisUrl } from "../../runtimes/linked/redis-link.ts";
import { createRoomFeed } from "../../runtimes/linked/room-feed.ts";
import { createSessionRevocations } from "../../runtimes/linked/session-revocations.ts";
import { createLinkedRoomLog, type LinkedRoomLog } from "../../runtimes/linked/room-log.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test:linked:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
const log = createLogger("error");
const retention = { maxMessages: 1000, maxAgeMs: 86_400_000, maxBytes: 8 * 1024 * 1024 };

let redis: LinkRedis;
let other: LinkRedis;

beforeAll(async () => {
  redis = openLinkRedis({ url: REDIS_URL, log });
  other = openLinkRedis({ url: REDIS_URL, log });
  await Promise.all([redis.whenReady(), other.whenReady()]);
});

afterAll(async () => {
  let cursor = "0";
  do {
    const [next, keys] = (await redis.command(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "500"])) as [
      string,
      string[],
    ];
    cursor = next;
    if (keys.length > 0) await redis.command(["DEL", ...keys]);
  } while (cursor !== "0");
  await Promise.all([redis.close(), other.close()]);
});

const seqsOf = (frames: string[]) => frames.map((f) => (JSON.parse(f) as { seq: number }).seq);

/** Resolves once `pred` holds, checking on every delivery; rejects after `ms`. */
function until(pred: () => boolean, ms = 5_000): { check: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    setTimeout(() => rej(new Error("condition not reached")), ms).unref();
  });
  const check = () => {
    if (pred()) resolve();
  };
  return { check, done };
}

describe("REDIS_URL", () => {
  it("accepts redis:// and rediss:// and names the key when it is anything else", () => {
    expect(parseRedisUrl("rediss://default:x@example.upstash.io:6379").protocol).toBe("rediss:");
    expect(() => parseRedisUrl("https://example.upstash.io")).toThrow(/REDIS_URL/);
    expect(() => parseRedisUrl("not a url")).toThrow(/REDIS_URL/);
  });

  it("never echoes the value, which may hold a password", () => {
    expect(() => parseRedisUrl("https://user:hunter2@example")).toThrow(/^(?!.*hunter2)/);
  });
});

describe("the linked room log", () => {
  let roomLog: LinkedRoomLog;
  beforeAll(async () => {
    roomLog = await createLinkedRoomLog(redis, { prefix, retention });
  });

  it("assigns gap-free sequence numbers across instances appending at once", async () => {
    const otherLog = await createLinkedRoomLog(other, { prefix, retention });
    const appends = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? roomLog : otherLog).append("race", [{ from: `u${i}`, dataText: String(i) }]),
    );
    const firsts = (await Promise.all(appends)).map((a) => a.firstSeq).sort((a, b) => a - b);
    expect(firsts).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const page = await roomLog.read("race", 0, 100);
    expect(page.messages.map((m) => m.seq)).toEqual(firsts);
    expect(page.latestSeq).toBe(40);
    expect(page.oldestSeq).toBe(1);
  });

  it("stores the same message frame the Durable Object stores", async () => {
    const { firstSeq, ts } = await roomLog.append("frames", [{ from: "u1", dataText: '{"text":"hi"}' }]);
    const [message] = (await roomLog.read("frames", firstSeq - 1, 1)).messages;
    expect(JSON.parse(message?.frame ?? "")).toEqual({
      type: "message",
      seq: firstSeq,
      from: { id: "u1" },
      data: { text: "hi" },
      ts,
    });
  });

  it("appends a batch in order under consecutive sequence numbers", async () => {
    const batch = Array.from({ length: 5 }, (_, i) => ({ from: "u", dataText: String(i) }));
    const { firstSeq } = await roomLog.append("batch", batch);
    const page = await roomLog.read("batch", 0, 10);
    expect(page.messages.map((m) => JSON.parse(m.frame).data)).toEqual([0, 1, 2, 3, 4]);
    expect(seqsOf(page.messages.map((m) => m.frame))).toEqual([firstSeq, 2, 3, 4, 5]);
  });

  it("retains by count, then by bytes, and keeps counting after pruning", async () => {
    const small = await createLinkedRoomLog(redis, { prefix, retention: { ...retention, maxMessages: 3 } });
    for (let i = 0; i < 6; i++) await small.append("count", [{ from: "u", dataText: String(i) }]);
    let page = await small.read("count", 0, 10);
    expect(page.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(page.oldestSeq).toBe(4);

    const tiny = await createLinkedRoomLog(redis, { prefix, retention: { ...retention, maxBytes: 200 } });
    for (let i = 0; i < 5; i++) await tiny.append("bytes", [{ from: "u", dataText: JSON.stringify("x".repeat(60)) }]);
    page = await tiny.read("bytes", 0, 10);
    const retained = page.messages.reduce((sum, m) => sum + new TextEncoder().encode(m.frame).byteLength, 0);
    expect(retained).toBeLessThanOrEqual(200);
    expect(page.latestSeq).toBe(5);
    expect(page.messages.at(-1)?.seq).toBe(5);
  });

  it("continues the sequence when the meta hash was lost but the stream was not", async () => {
    await roomLog.append("lost-meta", [{ from: "u", dataText: "1" }]);
    await roomLog.append("lost-meta", [{ from: "u", dataText: "2" }]);
    await redis.command(["DEL", `${prefix}room:{lost-meta}:meta`]);
    const { firstSeq } = await roomLog.append("lost-meta", [{ from: "u", dataText: "3" }]);
    expect(firstSeq).toBe(3);
  });

  it("drops messages past the age limit before a read", async () => {
    const brief = await createLinkedRoomLog(redis, { prefix, retention: { ...retention, maxAgeMs: 1 } });
    await brief.append("aged", [{ from: "u", dataText: "1" }]);
    await brief.append("aged", [{ from: "u", dataText: "2" }]);
    // One millisecond of retention: by the time Redis runs the read script, both have aged out.
    let page = await brief.read("aged", 0, 10);
    for (let i = 0; i < 20 && page.messages.length > 0; i++) page = await brief.read("aged", 0, 10);
    expect(page.messages).toEqual([]);
    expect(page.latestSeq).toBe(2);
    expect(page.oldestSeq).toBe(3);
  });
});

describe("the linked room feed", () => {
  it("delivers every append from any instance exactly once, in order", async () => {
    const logA = await createLinkedRoomLog(redis, { prefix, retention });
    const logB = await createLinkedRoomLog(other, { prefix, retention });
    const feed = createRoomFeed({ log: logA, redis, logger: log });
    const received: number[] = [];
    const wait = until(() => received.length === 60);
    await feed.follow("feed", 0, (frames) => {
      received.push(...seqsOf(frames));
      wait.check();
    });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 3 ? logA : logB).append("feed", [{ from: "u", dataText: "0" }])),
    );
    await wait.done;
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await feed.unfollow("feed");
  });

  it("catches up from the log what was appended before it followed", async () => {
    const roomLog = await createLinkedRoomLog(redis, { prefix, retention });
    for (let i = 0; i < 5; i++) await roomLog.append("late", [{ from: "u", dataText: String(i) }]);
    const feed = createRoomFeed({ log: roomLog, redis, logger: log });
    const received: number[] = [];
    const wait = until(() => received.at(-1) === 6);
    await feed.follow("late", 2, (frames) => {
      received.push(...seqsOf(frames));
      wait.check();
    });
    await roomLog.append("late", [{ from: "u", dataText: "5" }]);
    await wait.done;
    expect(received).toEqual([3, 4, 5, 6]);
    expect(feed.deliveredSeq("late")).toBe(6);
  });

  it("fills a gap the channel lost from the log", async () => {
    const roomLog = await createLinkedRoomLog(redis, { prefix, retention });
    const feed = createRoomFeed({ log: roomLog, redis, logger: log });
    const received: number[] = [];
    const wait = until(() => received.at(-1) === 4);
    await feed.follow("gap", 0, (frames) => {
      received.push(...seqsOf(frames));
      wait.check();
    });
    // Seqs 1-3 are appended without a publish reaching anyone (as if the channel dropped them).
    await redis.command(["HSET", `${prefix}room:{gap}:meta`, "seq", "3"]);
    for (let seq = 1; seq <= 3; seq++) {
      const frame = `{"type":"message","seq":${seq},"from":{"id":"u"},"data":0,"ts":${Date.now()}}`;
      await redis.command([
        "XADD",
        `${prefix}room:{gap}:log`,
        `${seq}-0`,
        "f",
        frame,
        "t",
        String(Date.now()),
        "b",
        "1",
      ]);
    }
    await roomLog.append("gap", [{ from: "u", dataText: "0" }]);
    await wait.done;
    expect(received).toEqual([1, 2, 3, 4]);
  });
});

describe("the link with Redis unreachable", () => {
  it("fails commands at once and keeps the process up while it reconnects", async () => {
    const down = openLinkRedis({ url: "redis://127.0.0.1:1", log });
    const started = Date.now();
    await expect(down.command(["PING"])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(500);
    expect(down.ready()).toBe(false);
    await down.close();
  });
});

describe("the fleet lease", () => {
  it("lets exactly one of several instances run a job per interval", async () => {
    const leases = [redis, other, redis].map((r, i) => createFleetLease(r, { prefix, instanceId: `i${i}` }));
    const granted = await Promise.all(leases.map((l) => l.acquire("sweep", 60_000)));
    expect(granted.filter(Boolean)).toHaveLength(1);
    expect(await leases[0]?.acquire("prune", 60_000)).toBe(true);
  });
});

describe("presence across instances", () => {
  const limits = { maxConnections: 3, maxPerUser: 2 };
  const registry = (instanceId: string, leaseMs = 60_000) =>
    createPresenceRegistry(redis, { prefix, instanceId, leaseMs });

  it("lists the members of every instance and says join only for a user's first socket anywhere", async () => {
    const [a, b] = await Promise.all([registry("a"), registry("b")]);
    expect(await a.admit("p1", "u1", limits)).toEqual({ ok: true, joined: true, left: [] });
    expect(await b.admit("p1", "u1", limits)).toEqual({ ok: true, joined: false, left: [] });
    expect(await b.admit("p1", "u2", limits)).toEqual({ ok: true, joined: true, left: [] });
    expect((await a.read("p1")).users).toEqual([
      { id: "u1", connections: 2 },
      { id: "u2", connections: 1 },
    ]);
    expect(await a.release("p1", "u1")).toBe(false);
    expect(await b.release("p1", "u1")).toBe(true);
    expect((await b.read("p1")).users).toEqual([{ id: "u2", connections: 1 }]);
  });

  it("enforces the room's and the user's connection limits across instances", async () => {
    const [a, b] = await Promise.all([registry("a"), registry("b")]);
    await a.admit("p2", "u1", limits);
    expect(await b.admit("p2", "u1", limits)).toMatchObject({ ok: true });
    expect(await a.admit("p2", "u1", limits)).toMatchObject({ ok: false, refusal: "too_many_connections" });
    await b.admit("p2", "u2", limits);
    expect(await a.admit("p2", "u3", limits)).toMatchObject({ ok: false, refusal: "room_full" });
    await b.release("p2", "u2");
    expect(await a.admit("p2", "u3", limits)).toMatchObject({ ok: true, joined: true });
  });

  it("lets a dead instance's members leave once its lease runs out", async () => {
    const dying = await registry("dying", 50);
    const alive = await registry("alive");
    await dying.admit("p3", "gone", limits);
    await alive.admit("p3", "stays", limits);
    expect((await alive.read("p3")).users.map((u) => u.id)).toEqual(["gone", "stays"]);
    // The dying instance stops heartbeating: its lease (50 ms) passes with no renewal.
    const deadline = Date.now() + 2_000;
    let presence = await alive.read("p3");
    while (presence.left.length === 0 && Date.now() < deadline) presence = await alive.read("p3");
    expect(presence.left).toEqual(["gone"]);
    expect(presence.users.map((u) => u.id)).toEqual(["stays"]);
    expect((await alive.read("p3")).left).toEqual([]);
  });

  it("admits from the room's totals, rebuilds them when missing, and leaves no key once the room is empty", async () => {
    const [a, b] = await Promise.all([registry("a"), registry("b")]);
    const room = (part: string) => `${prefix}room:{p4}:${part}`;
    await a.admit("p4", "u1", limits);
    await b.admit("p4", "u2", limits);
    // As after an upgrade from the version that summed every member hash per admit: no totals yet.
    await redis.command(["DEL", room("total"), room("users")]);
    expect(await a.admit("p4", "u1", limits)).toEqual({ ok: true, joined: false, left: [] });
    expect(await redis.command(["GET", room("total")])).toBe("3");
    expect(await b.admit("p4", "u3", limits)).toMatchObject({ ok: false, refusal: "room_full" });
    expect(await b.admit("p4", "u1", limits)).toMatchObject({ ok: false, refusal: "room_full" });
    expect((await b.read("p4")).users).toEqual([
      { id: "u1", connections: 2 },
      { id: "u2", connections: 1 },
    ]);
    expect(await a.release("p4", "u1")).toBe(false);
    expect(await a.release("p4", "u1")).toBe(true);
    // A release of a socket this instance does not hold changes nothing: u2 is still on b.
    expect(await a.release("p4", "u2")).toBe(false);
    expect((await b.read("p4")).users).toEqual([{ id: "u2", connections: 1 }]);
    await a.sync("p4", new Map());
    await b.sync("p4", new Map());
    const left = (await redis.command([
      "EXISTS",
      room("instances"),
      room("users"),
      room("total"),
      room("members:b"),
    ])) as number;
    expect(left).toBe(0);
  });

  it("restates an instance's members in the totals on every heartbeat", async () => {
    const [a, b] = await Promise.all([registry("a"), registry("b")]);
    await a.admit("p5", "u1", limits);
    await b.admit("p5", "u1", limits);
    // The instance's own view wins: one socket of u1 closed unseen, another user joined.
    const presence = await a.sync("p5", new Map([["u5", 1]]));
    expect(presence.users).toEqual([
      { id: "u1", connections: 1 },
      { id: "u5", connections: 1 },
    ]);
    expect(await b.admit("p5", "u1", limits)).toMatchObject({ ok: true, joined: false });
    expect(await a.admit("p5", "u6", limits)).toMatchObject({ ok: false, refusal: "room_full" });
  });
});

describe("session revocation across instances", () => {
  it("reaches every subscribed instance and refuses the session's later connects everywhere", async () => {
    const here = createSessionRevocations(redis, { prefix });
    const there = createSessionRevocations(other, { prefix });
    const heard: string[] = [];
    const wait = until(() => heard.length === 2);
    await here.onRevoke((sid) => {
      heard.push(`here:${sid}`);
      wait.check();
    });
    await there.onRevoke((sid) => {
      heard.push(`there:${sid}`);
      wait.check();
    });
    expect(await there.isRevoked("s1")).toBe(false);
    await here.revoke("s1");
    await wait.done;
    expect(heard.sort()).toEqual(["here:s1", "there:s1"]);
    expect(await there.isRevoked("s1")).toBe(true);
  });
});
