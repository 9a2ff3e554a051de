// Upstash accepts Lua shebang flags that open-source Redis rejects: @upstash/ratelimit's scripts begin
// with `#!lua flags=allow-key-locking`, and Redis 7 answers "ERR Unexpected flag in script shebang".
// The bridge drops such flags before a script reaches Redis. That changes the script's SHA1, while
// clients call EVALSHA with the SHA1 of the text they know, so we keep a map original → rewritten SHA1
// and translate EVALSHA / SCRIPT EXISTS / SCRIPT LOAD both ways. The map lives in memory: after a
// bridge restart EVALSHA answers NOSCRIPT, the clients' documented cue to resend with EVAL.
import { createHash } from "node:crypto";
import type { RedisArg, RedisReply } from "./redis-resp.ts";

// The shebang flags Redis 7 knows (https://redis.io/docs/latest/develop/programmability/lua-api/).
const REDIS_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);

const sha1 = (s: RedisArg): string => createHash("sha1").update(s).digest("hex");

/** The script with flags Redis does not know removed from its `#!lua` line; the same string when nothing changes. */
export function stripUnknownFlags(script: string): string {
  const m = /^#!lua([^\n]*)/.exec(script);
  if (!m) return script;
  const rest = m[1] ?? "";
  const flagsMatch = /(^|\s)flags=(\S*)/.exec(rest);
  if (!flagsMatch) return script;
  const flags = (flagsMatch[2] ?? "").split(",").filter(Boolean);
  const kept = flags.filter((f) => REDIS_FLAGS.has(f));
  if (kept.length === flags.length) return script;
  const newRest = rest.replace(/(^|\s)flags=\S*/, kept.length > 0 ? `$1flags=${kept.join(",")}` : "");
  return `#!lua${newRest}${script.slice(m[0].length)}`;
}

export interface PreparedCommand {
  command: RedisArg[];
  /** Maps Redis' reply back to what the client expects (SCRIPT LOAD's SHA1). */
  fixReply(reply: RedisReply): RedisReply;
}

const same = (reply: RedisReply): RedisReply => reply;

export class ScriptShaMap {
  readonly #rewritten = new Map<string, string>();

  #rewrite(script: RedisArg): RedisArg {
    const text = script.toString();
    const stripped = stripUnknownFlags(text);
    if (stripped === text) return script;
    this.#rewritten.set(sha1(text), sha1(stripped));
    return stripped;
  }

  #sha(sha: RedisArg): RedisArg {
    return this.#rewritten.get(sha.toString().toLowerCase()) ?? sha;
  }

  prepare(command: RedisArg[]): PreparedCommand {
    const name = command[0]?.toString().toLowerCase();
    const out = [...command];
    if ((name === "eval" || name === "eval_ro") && out[1] !== undefined) {
      out[1] = this.#rewrite(out[1]);
    } else if ((name === "evalsha" || name === "evalsha_ro") && out[1] !== undefined) {
      out[1] = this.#sha(out[1]);
    } else if (name === "script") {
      const sub = command[1]?.toString().toLowerCase();
      if (sub === "load" && out[2] !== undefined) {
        const original = sha1(out[2].toString());
        out[2] = this.#rewrite(out[2]);
        // Redis answers with the SHA1 of what it got; the client expects the SHA1 of what it sent.
        return {
          command: out,
          fixReply: (r) => (Buffer.isBuffer(r) || typeof r === "string" ? Buffer.from(original) : r),
        };
      }
      if (sub === "exists") {
        for (let i = 2; i < out.length; i++) out[i] = this.#sha(out[i] as RedisArg);
      }
    }
    return { command: out, fixReply: same };
  }
}
