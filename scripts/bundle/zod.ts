// "zod" for the deploy bundle (wrangler.toml [alias]; vitest.config.ts mirrors it). Two cuts:
// - `locales`, the translated error messages of 60-odd languages (about 260 KiB raw), plus
//   fromJSONSchema and the compile JIT: zod-classic.ts is zod's own module minus those. Nothing here
//   reads `z.locales` (English is zod's built-in default).
// - `z` is a plain object of the members this code base calls, not the module namespace. esbuild
//   keeps every export of a namespace that is passed on as a value (`import { z } from "zod"` is
//   one), so with the namespace every schema kind and helper zod has would ship; with this object
//   only those listed (and what they use) do. A member missing here is `undefined` in the Worker
//   only, so test/node/bundle-aliases.test.ts scans the sources for `z.<name>` and fails first.
// Mirrors node_modules/zod/index.js; pinned to zod 4's file layout, so a zod that moves these files
// fails the build loudly rather than shipping something else.
import * as all from "./zod-classic.ts";

export * from "./zod-classic.ts";

export const z = {
  array: all.array,
  boolean: all.boolean,
  coerce: all.coerce,
  discriminatedUnion: all.discriminatedUnion,
  email: all.email,
  enum: all.enum,
  iso: all.iso,
  literal: all.literal,
  NEVER: all.NEVER,
  number: all.number,
  object: all.object,
  record: all.record,
  string: all.string,
  union: all.union,
  unknown: all.unknown,
  url: all.url,
  uuid: all.uuid,
  ZodString: all.ZodString,
  ZodType: all.ZodType,
};
export { z as default };
