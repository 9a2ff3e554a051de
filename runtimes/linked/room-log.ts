// One message log per room in Redis, shared by every linked instance: the Redis counterpart of
// durable/message-log.ts, with the same frames, the same gap-free sequence and the same retention
// (count, age, bytes). A Lua script assigns the sequence numbers and appends in one atomic step, then
// publishes the new frames on the room's channel, so every instance sees appends in sequence order.
//
// Keys, under the configured prefix (the {…} hash tag keeps a room's keys in one cluster slot):
//   room:{<name>}:log   a Stream; entry ids are `<seq>-0`, fields f (frame), t (ts ms), b (bytes)
//   room:{<name>}:meta  a hash: seq (latest seq), bytes (retained frame bytes)
//   room:{<name>}:live  the pub/sub channel: "<firstSeq>\n<frame>\n<frame>…" per append
import type { RetentionPolicy, StoredMessage } from "../../durable/message-log.ts";
import { type LinkRedis, luaScript } from "./redis-link.ts";

// Frames are JSON (JSON.stringify escapes newlines), so "\n" separates them safely on the channel.
const APPEND = `
local log, meta = KEYS[1], KEYS[2]
local channel = ARGV[1]
local maxMessages, maxAge, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HEXISTS', meta, 'seq') == 0 and redis.call('EXISTS', log) == 1 then
  -- The meta hash was lost but the stream was not: continue after the stream's last id, never reuse one.
  local info = redis.call('XINFO', 'STREAM', log)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      redis.call('HSET', meta, 'seq', tonumber(string.match(info[i + 1], '^(%d+)')))
    end
  end
end
local n = (#ARGV - 4) / 2
local first = redis.call('HINCRBY', meta, 'seq', n) - n + 1
local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
local frames = {}
for i = 0, n - 1 do
  local seq = first + i
  local frame = '{"type":"message","seq":' .. seq .. ',"from":' .. ARGV[5 + 2 * i] .. ',"data":' .. ARGV[6 + 2 * i] .. ',"ts":' .. now .. '}'
  redis.call('XADD', log, seq .. '-0', 'f', frame, 't', now, 'b', #frame)
  bytes = bytes + #frame
  frames[#frames + 1] = frame
end
-- Retention, oldest first; the newest message always stays so the sequence can be read back.
local len = redis.call('XLEN', log)
local cutoff = now - maxAge
for _ = 1, 100000 do
  if len <= 1 then break end
  local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  local fields = oldest[2]
  if len > maxMessages or bytes > maxBytes or tonumber(fields[4]) < cutoff then
    redis.call('XDEL', log, oldest[1])
    bytes = bytes - tonumber(fields[6])
    len = len - 1
  else
    break
  end
end
redis.call('HSET', meta, 'bytes', bytes)
redis.call('PUBLISH', channel, first .. '\\n' .. table.concat(frames, '\\n'))
return {first, now}
`;

// Reads what a replay or history page needs in one round trip: the latest seq, the oldest retained
// seq, and the retained frames after `since`. Entries past the age limit are dropped first, as the
// Durable Object prunes before it replays.
const READ = `
local log, meta = KEYS[1], KEYS[2]
local since, limit, maxAge = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local latest = tonumber(redis.call('HGET', meta, 'seq') or '0')
local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
local freed = 0
for _ = 1, 100000 do
  local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if not oldest or tonumber(oldest[2][4]) >= now - maxAge then break end
  redis.call('XDEL', log, oldest[1])
  freed = freed + tonumber(oldest[2][6])
end
if freed > 0 then redis.call('HSET', meta, 'bytes', bytes - freed) end
local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
local oldestSeq = latest + 1
if oldest then oldestSeq = tonumber(string.match(oldest[1], '^(%d+)')) end
local entries = redis.call('XRANGE', log, '(' .. since .. '-0', '+', 'COUNT', limit)
local out = {latest, oldestSeq}
for _, entry in ipairs(entries) do
  out[#out + 1] = entry[2][2]
  out[#out + 1] = entry[2][4]
end
return out
`;

export interface LogPage {
  /** Retained messages after `since`, oldest first. */
  messages: StoredMessage[];
  latestSeq: number;
  /** The first retained seq; latestSeq + 1 when nothing is retained. */
  oldestSeq: number;
}

export interface AppendedBatch {
  /** The seq of the first message; the others follow without gaps. */
  firstSeq: number;
  ts: number;
}

/** A batch as the room's channel carries it. */
export interface LiveBatch {
  firstSeq: number;
  frames: string[];
}

export interface LinkedRoomLog {
  /** Appends messages (each `from` and `dataText` already JSON) atomically, in order; returns their seqs. */
  append(room: string, messages: Array<{ from: string; dataText: string }>): Promise<AppendedBatch>;
  /** Retained messages after `since` (at most `limit`), with the latest and oldest retained seq. */
  read(room: string, since: number, limit: number): Promise<LogPage>;
  /** The channel a room's appends are published on. */
  channelOf(room: string): string;
}

export function parseLiveBatch(payload: string): LiveBatch | undefined {
  const lines = payload.split("\n");
  const firstSeq = Number(lines[0]);
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1 || lines.length < 2) return undefined;
  return { firstSeq, frames: lines.slice(1) };
}

export async function createLinkedRoomLog(
  redis: LinkRedis,
  options: { prefix: string; retention: RetentionPolicy },
): Promise<LinkedRoomLog> {
  const [append, read] = await Promise.all([luaScript(APPEND), luaScript(READ)]);
  const key = (room: string, part: string) => `${options.prefix}room:{${room}}:${part}`;
  const { maxMessages, maxAgeMs, maxBytes } = options.retention;

  return {
    channelOf: (room) => key(room, "live"),

    async append(room, messages) {
      if (messages.length === 0) throw new RangeError("append needs at least one message");
      const args = [key(room, "live"), String(maxMessages), String(maxAgeMs), String(maxBytes)];
      for (const m of messages) args.push(JSON.stringify({ id: m.from }), m.dataText);
      const [firstSeq, ts] = (await redis.script(append, [key(room, "log"), key(room, "meta")], args)) as [
        number,
        number,
      ];
      return { firstSeq: Number(firstSeq), ts: Number(ts) };
    },

    async read(room, since, limit) {
      const reply = (await redis.script(
        read,
        [key(room, "log"), key(room, "meta")],
        [String(Math.max(0, Math.floor(since))), String(Math.max(1, Math.floor(limit))), String(maxAgeMs)],
      )) as Array<number | string>;
      const latestSeq = Number(reply[0]);
      const oldestSeq = Number(reply[1]);
      const messages: StoredMessage[] = [];
      for (let i = 2; i < reply.length; i += 2) {
        const frame = String(reply[i]);
        const seq = seqOfFrame(frame);
        messages.push({ seq, ts: Number(reply[i + 1]), frame });
      }
      return { messages, latestSeq, oldestSeq };
    },
  };
}

// The frame starts with `{"type":"message","seq":<n>,` (built by the script), so the seq is read
// without parsing the whole frame.
const SEQ_PREFIX = '{"type":"message","seq":';
function seqOfFrame(frame: string): number {
  const end = frame.indexOf(",", SEQ_PREFIX.length);
  return Number(frame.slice(SEQ_PREFIX.length, end));
}
