// zod/v4/classic/external.js minus `locales`, `fromJSONSchema` and the `compile` JIT (see zod.ts).
// The deploy bundle runs the copy scripts/zod-classic-build.ts makes of this file, in which the five
// classic modules below marked "copied" are zod's own with JSON Schema conversion stubbed out.
export * as core from "./zod-core.ts";
export * from "../../node_modules/zod/v4/classic/schemas.js"; // copied
export * from "../../node_modules/zod/v4/classic/checks.js";
export * from "../../node_modules/zod/v4/classic/errors.js";
export * from "../../node_modules/zod/v4/classic/parse.js";
export * from "../../node_modules/zod/v4/classic/compat.js";
export {
  globalRegistry,
  registry,
  config,
  memoizer,
  $output,
  $input,
  $brand,
  clone,
  regexes,
  treeifyError,
  prettifyError,
  formatError,
  flattenError,
  TimePrecision,
  util,
  NEVER,
  INVALID,
  toZod,
  getDiscriminatedOption,
} from "./zod-core.ts";
export { toJSONSchema } from "../../node_modules/zod/v4/core/json-schema-processors.js";
export { deepPartial } from "../../node_modules/zod/v4/classic/deep-partial.js"; // copied
// Types and values both, from one module — re-exporting the types from core would collide.
export { input, output } from "../../node_modules/zod/v4/classic/in-out.js"; // copied
// iso must be exported from top-level https://github.com/colinhacks/zod/issues/4491
export { ZodISODateTime, ZodISODate, ZodISOTime, ZodISODuration } from "../../node_modules/zod/v4/classic/iso.js"; // copied
export * as iso from "../../node_modules/zod/v4/classic/iso.js"; // copied
export * as coerce from "../../node_modules/zod/v4/classic/coerce.js"; // copied
