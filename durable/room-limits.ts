import { z } from "zod";

/**
 * The room object's limits, read from the Worker's vars (wrangler.toml `[vars]` or `--var`).
 * Every limit is explicit and has a default sized for one busy room on one object.
 */
const positiveInt = (fallback: number, max: number) => z.coerce.number().int().positive().max(max).default(fallback);

const limitsSchema = z
  .object({
    /** Messages kept per room for `since` replay and history, newest first. */
    ROOM_RETENTION_MESSAGES: positiveInt(1_000, 100_000),
    /** Messages older than this are dropped from replay and history. */
    ROOM_RETENTION_SECONDS: positiveInt(24 * 3600, 30 * 24 * 3600),
    /**
     * Total size of the retained frames. A reconnect replays up to this much onto one socket, so it
     * bounds the memory one replay takes in the object (128 MB per isolate).
     */
    ROOM_RETENTION_BYTES: positiveInt(8 * 1024 * 1024, 64 * 1024 * 1024),
    /** Largest client frame (and largest published `data`, serialized), in UTF-8 bytes. */
    ROOM_MAX_FRAME_BYTES: positiveInt(64 * 1024, 1024 * 1024),
    /** Per-connection publish rate (token bucket refill per second) ... */
    ROOM_PUBLISH_RATE_PER_SECOND: z.coerce.number().positive().max(10_000).default(10),
    /** ... and burst (bucket size). Also applied per user to POST /messages from non-admins. */
    ROOM_PUBLISH_BURST: positiveInt(20, 10_000),
    /** Sockets per room; hibernation allows 32,768 per object. */
    ROOM_MAX_CONNECTIONS: positiveInt(10_000, 32_768),
    /** Sockets one user may hold in one room (tabs, devices). */
    ROOM_MAX_CONNECTIONS_PER_USER: positiveInt(32, 1_000),
    /**
     * How long the room gathers publishes before one flush stores them in one transaction and sends
     * each socket one frame. 0: the next turn of the event loop, so batches form only under load
     * (whatever arrives while a flush is sending joins the next one).
     */
    ROOM_TICK_MS: z.coerce.number().int().nonnegative().max(1_000).default(0),
    /**
     * Longest wait between two presence diffs. A quiet room announces a change within 50 ms; while
     * changes keep coming the interval doubles (and is at least 5 ms × connections) up to this, so
     * a member of a filling room gets a handful of diffs whatever the join rate.
     */
    ROOM_PRESENCE_INTERVAL_MS: positiveInt(5_000, 60_000),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .refine((l) => l.ROOM_RETENTION_BYTES >= 2 * l.ROOM_MAX_FRAME_BYTES, {
    path: ["ROOM_RETENTION_BYTES"],
    message: "must be at least twice ROOM_MAX_FRAME_BYTES",
  });

export type RoomLimits = z.output<typeof limitsSchema>;

const KEYS = Object.keys(limitsSchema.shape) as (keyof RoomLimits)[];

/** Parses the limits from an env. A bad value fails naming the key (never echoing the value). */
export function parseRoomLimits(env: Record<string, unknown>): RoomLimits {
  const picked: Record<string, unknown> = {};
  for (const key of KEYS) {
    const value = env[key];
    if (value !== undefined && value !== "") picked[key] = value;
  }
  const result = limitsSchema.safeParse(picked);
  if (!result.success) {
    const keys = result.error.issues.map((i) => `${String(i.path[0])} ${i.message}`);
    throw new Error(`Invalid room configuration: ${keys.join("; ")}`);
  }
  return result.data;
}

// The env object is stable for the isolate's life: parse once per env, keep no request state.
const memo = new WeakMap<object, RoomLimits>();

export function roomLimitsFor(env: object): RoomLimits {
  let limits = memo.get(env);
  if (!limits) {
    limits = parseRoomLimits(env as Record<string, unknown>);
    memo.set(env, limits);
  }
  return limits;
}
