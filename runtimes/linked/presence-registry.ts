// Presence and connection limits across linked instances. Each instance counts its own members of a
// room in a hash of its own (user id -> sockets), and says it is alive in the room's instance set
// with a deadline its heartbeat pushes forward. The room's totals across live instances (sockets per
// user, sockets in all) are kept beside them, updated by the same scripts, so an admission reads two
// fields instead of summing every instance's hash: O(log instances) per admit and release, however
// full the room. A dead instance (its deadline passed: killed) is swept on the next call that sees
// it, its members subtracted from the totals once, so its members leave within one lease.
//
// Keys, under the configured prefix (the {…} hash tag keeps a room's keys in one cluster slot):
//   room:{<name>}:instances       a sorted set: instance id -> deadline (epoch ms)
//   room:{<name>}:members:<inst>  a hash: user id -> that instance's sockets of the user
//   room:{<name>}:users           a hash: user id -> sockets of the user on live instances
//   room:{<name>}:total           sockets on live instances; rebuilt from the member hashes when
//                                 missing (first use after an upgrade), deleted with the last instance
import { type LinkRedis, luaScript } from "./redis-link.ts";

// Shared by the scripts below. KEYS: instances, members prefix, users, total.
// sweep() drops dead instances and subtracts their members from the totals; it returns the users
// whose last socket was on a dead instance (they left). add() applies one instance's delta to the
// totals. done() removes the totals once no instance is left (no key outlives its room).
const TOTALS = `
local instancesKey, membersPrefix, usersKey, totalKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function add(user, n, left)
  local v = redis.call('HINCRBY', usersKey, user, n)
  if v <= 0 then
    redis.call('HDEL', usersKey, user)
    if left then left[#left + 1] = user end
  end
  if redis.call('INCRBY', totalKey, n) < 0 then redis.call('SET', totalKey, 0) end
end
if redis.call('EXISTS', totalKey) == 0 then
  redis.call('DEL', usersKey)
  redis.call('SET', totalKey, 0)
  for _, inst in ipairs(redis.call('ZRANGE', instancesKey, 0, -1)) do
    local h = redis.call('HGETALL', membersPrefix .. inst)
    for i = 1, #h, 2 do add(h[i], tonumber(h[i + 1])) end
  end
end
local function sweep()
  local left = {}
  local dead = redis.call('ZRANGEBYSCORE', instancesKey, '-inf', '(' .. now)
  for _, inst in ipairs(dead) do
    local h = redis.call('HGETALL', membersPrefix .. inst)
    for i = 1, #h, 2 do add(h[i], -tonumber(h[i + 1]), left) end
    redis.call('DEL', membersPrefix .. inst)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', instancesKey, '-inf', '(' .. now) end
  return left
end
local function done()
  if redis.call('ZCARD', instancesKey) == 0 then redis.call('DEL', usersKey, totalKey) end
end
local function presence(left)
  local out = redis.call('HGETALL', usersKey)
  out[#out + 1] = ''
  for _, u in ipairs(left) do out[#out + 1] = u end
  return out
end
`;

// ARGV: instance, user, maxRoom, maxPerUser, leaseMs
// Returns {verdict, joined (1 when the user had no socket anywhere), left users...}
const ADMIT = `${TOTALS}
local left = sweep()
local inst, user = ARGV[1], ARGV[2]
local total = tonumber(redis.call('GET', totalKey) or '0')
local mine = tonumber(redis.call('HGET', usersKey, user) or '0')
local verdict = 'ok'
if total >= tonumber(ARGV[3]) then verdict = 'room_full'
elseif mine >= tonumber(ARGV[4]) then verdict = 'too_many_connections' end
local joined = 0
if verdict == 'ok' then
  if mine == 0 then joined = 1 end
  redis.call('HINCRBY', membersPrefix .. inst, user, 1)
  add(user, 1)
  redis.call('ZADD', instancesKey, now + tonumber(ARGV[5]), inst)
end
done()
local out = {verdict, joined}
for _, u in ipairs(left) do out[#out + 1] = u end
return out
`;

// ARGV: instance, user. Returns 1 when the user has no socket left anywhere.
const RELEASE = `${TOTALS}
sweep()
local key = membersPrefix .. ARGV[1]
if tonumber(redis.call('HGET', key, ARGV[2]) or '0') > 0 then
  if redis.call('HINCRBY', key, ARGV[2], -1) <= 0 then redis.call('HDEL', key, ARGV[2]) end
  add(ARGV[2], -1)
end
local gone = redis.call('HEXISTS', usersKey, ARGV[2]) == 0
done()
if gone then return 1 end
return 0
`;

// ARGV: instance (or ''), leaseMs. Renews the instance's deadline when it is a member, then returns
// {user, count, user, count, ..., '', left users...}.
const READ = `${TOTALS}
if ARGV[1] ~= '' and redis.call('ZSCORE', instancesKey, ARGV[1]) then
  redis.call('ZADD', instancesKey, now + tonumber(ARGV[2]), ARGV[1])
end
local out = presence(sweep())
done()
return out
`;

// ARGV: instance, leaseMs, user, count, user, count, ...
// The heartbeat: replaces this instance's member hash with what it holds (its old counts out of the
// totals, the new ones in) and renews its deadline, so an instance that was swept while Redis was out
// of reach (or slow) is counted again. Returns the same as READ.
const SYNC = `${TOTALS}
local left = sweep()
local key = membersPrefix .. ARGV[1]
local old = redis.call('HGETALL', key)
for i = 1, #old, 2 do add(old[i], -tonumber(old[i + 1])) end
redis.call('DEL', key)
if #ARGV > 2 then
  for i = 3, #ARGV, 2 do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    add(ARGV[i], tonumber(ARGV[i + 1]))
  end
  redis.call('ZADD', instancesKey, now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', instancesKey, ARGV[1])
end
local out = presence(left)
done()
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
    `${options.prefix}room:{${room}}:users`,
    `${options.prefix}room:{${room}}:total`,
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
