// Presence and connection limits across linked instances. Each instance counts its own members of a
// room in a hash of its own (user id -> sockets), and says it is alive in the room's instance set
// with a deadline its heartbeat pushes forward. Reads and admissions first drop instances whose
// deadline passed (a killed instance's members leave within one lease), so the room's count, its
// per-user count and its member list are the sum over live instances.
//
// Keys, under the configured prefix (the {…} hash tag keeps a room's keys in one cluster slot):
//   room:{<name>}:instances       a sorted set: instance id -> deadline (epoch ms)
//   room:{<name>}:members:<inst>  a hash: user id -> that instance's sockets of the user
import { type LinkRedis, luaScript } from "./redis-link.ts";

// Shared by the scripts below: drop dead instances, then sum the live ones' counts. Returns the sum
// per user, the total, and the users whose last socket was on a dead instance (they left).
const SWEEP_AND_SUM = `
local function sweepAndSum(instancesKey, membersPrefix, now)
  local left = {}
  local dead = redis.call('ZRANGEBYSCORE', instancesKey, '-inf', '(' .. now)
  local before = {}
  if #dead > 0 then
    for _, inst in ipairs(redis.call('ZRANGE', instancesKey, 0, -1)) do
      local h = redis.call('HGETALL', membersPrefix .. inst)
      for i = 1, #h, 2 do before[h[i]] = (before[h[i]] or 0) + tonumber(h[i + 1]) end
    end
    for _, inst in ipairs(dead) do redis.call('DEL', membersPrefix .. inst) end
    redis.call('ZREMRANGEBYSCORE', instancesKey, '-inf', '(' .. now)
  end
  local users, total = {}, 0
  for _, inst in ipairs(redis.call('ZRANGE', instancesKey, 0, -1)) do
    local h = redis.call('HGETALL', membersPrefix .. inst)
    for i = 1, #h, 2 do
      local n = tonumber(h[i + 1])
      users[h[i]] = (users[h[i]] or 0) + n
      total = total + n
    end
  end
  for user, _ in pairs(before) do
    if not users[user] then left[#left + 1] = user end
  end
  return users, total, left
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: instances, members prefix; ARGV: instance, user, maxRoom, maxPerUser, leaseMs
// Returns {verdict, joined (1 when the user had no socket anywhere), left users...}
const ADMIT = `${SWEEP_AND_SUM}
local users, total, left = sweepAndSum(KEYS[1], KEYS[2], now)
local inst, user = ARGV[1], ARGV[2]
local verdict = 'ok'
if total >= tonumber(ARGV[3]) then verdict = 'room_full'
elseif (users[user] or 0) >= tonumber(ARGV[4]) then verdict = 'too_many_connections' end
local joined = 0
if verdict == 'ok' then
  if (users[user] or 0) == 0 then joined = 1 end
  redis.call('HINCRBY', KEYS[2] .. inst, user, 1)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), inst)
end
local out = {verdict, joined}
for _, u in ipairs(left) do out[#out + 1] = u end
return out
`;

// KEYS: instances, members prefix; ARGV: instance, user. Returns 1 when the user has no socket left anywhere.
const RELEASE = `${SWEEP_AND_SUM}
local key = KEYS[2] .. ARGV[1]
if tonumber(redis.call('HGET', key, ARGV[2]) or '0') > 0 then
  if redis.call('HINCRBY', key, ARGV[2], -1) <= 0 then redis.call('HDEL', key, ARGV[2]) end
end
local users = sweepAndSum(KEYS[1], KEYS[2], now)
if users[ARGV[2]] then return 0 end
return 1
`;

// KEYS: instances, members prefix; ARGV: instance (or ''), leaseMs. Renews the instance's deadline
// when it is a member, then returns {user, count, user, count, ..., '', left users...}.
const READ = `${SWEEP_AND_SUM}
if ARGV[1] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
local users, _, left = sweepAndSum(KEYS[1], KEYS[2], now)
local out = {}
for user, n in pairs(users) do out[#out + 1] = user; out[#out + 1] = n end
out[#out + 1] = ''
for _, u in ipairs(left) do out[#out + 1] = u end
return out
`;

// KEYS: instances, members prefix; ARGV: instance, leaseMs, user, count, user, count, ...
// The heartbeat: replaces this instance's member hash with what it holds and renews its deadline,
// so an instance that was swept while Redis was out of reach (or slow) is counted again. Returns
// the same as READ.
const SYNC = `${SWEEP_AND_SUM}
local key = KEYS[2] .. ARGV[1]
redis.call('DEL', key)
if #ARGV > 2 then
  for i = 3, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local users, _, left = sweepAndSum(KEYS[1], KEYS[2], now)
local out = {}
for user, n in pairs(users) do out[#out + 1] = user; out[#out + 1] = n end
out[#out + 1] = ''
for _, u in ipairs(left) do out[#out + 1] = u end
return out
`;

export type Admission =
  | { ok: true; joined: boolean; left: string[] }
  | { ok: false; refusal: "room_full" | "too_many_connections"; left: string[] };

export interface RoomPresence {
  users: Array<{ id: string; connections: number }>;
  /** Users whose last socket was on an instance found dead by this read: announce their leave. */
  left: string[];
}

export interface PresenceRegistry {
  /** Counts a socket of `userId` on this instance if the room's limits across the fleet allow it. */
  admit(room: string, userId: string, limits: { maxConnections: number; maxPerUser: number }): Promise<Admission>;
  /** Uncounts a socket; true when the user has no socket left in the room on any instance. */
  release(room: string, userId: string): Promise<boolean>;
  /** The room's members across live instances; renews this instance's lease in the room. */
  read(room: string): Promise<RoomPresence>;
  /**
   * The heartbeat: states this instance's members of the room (user id -> sockets; none removes
   * the instance from the room), renews its lease, and returns the room's members across the fleet.
   */
  sync(room: string, members: ReadonlyMap<string, number>): Promise<RoomPresence>;
  /** How long an instance that stops heartbeating still counts (the leave bound). */
  readonly leaseMs: number;
}

export async function createPresenceRegistry(
  redis: LinkRedis,
  options: { prefix: string; instanceId: string; leaseMs: number },
): Promise<PresenceRegistry> {
  const [admit, release, read, sync] = await Promise.all([
    luaScript(ADMIT),
    luaScript(RELEASE),
    luaScript(READ),
    luaScript(SYNC),
  ]);
  const keys = (room: string) => [
    `${options.prefix}room:{${room}}:instances`,
    `${options.prefix}room:{${room}}:members:`,
  ];
  const byUser = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const parsePresence = (value: unknown): RoomPresence => {
    const reply = value as Array<string | number>;
    const split = reply.indexOf("");
    const users: RoomPresence["users"] = [];
    for (let i = 0; i < split; i += 2) users.push({ id: String(reply[i]), connections: Number(reply[i + 1]) });
    return { users: users.sort(byUser), left: reply.slice(split + 1).map(String) };
  };

  return {
    leaseMs: options.leaseMs,
    async admit(room, userId, limits) {
      const reply = (await redis.script(admit, keys(room), [
        options.instanceId,
        userId,
        String(limits.maxConnections),
        String(limits.maxPerUser),
        String(options.leaseMs),
      ])) as Array<string | number>;
      const [verdict, joined, ...left] = reply;
      const leftUsers = left.map(String);
      if (verdict === "ok") return { ok: true, joined: Number(joined) === 1, left: leftUsers };
      return { ok: false, refusal: verdict as "room_full" | "too_many_connections", left: leftUsers };
    },
    async release(room, userId) {
      return Number(await redis.script(release, keys(room), [options.instanceId, userId])) === 1;
    },
    async read(room) {
      return parsePresence(await redis.script(read, keys(room), [options.instanceId, String(options.leaseMs)]));
    },
    async sync(room, members) {
      const args = [options.instanceId, String(options.leaseMs)];
      for (const [user, n] of members) if (n > 0) args.push(user, String(n));
      return parsePresence(await redis.script(sync, keys(room), args));
    },
  };
}
