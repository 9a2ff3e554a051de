// "zod" for the deploy bundle (wrangler.toml [alias]): the same module minus `locales`, the
// translated error messages of 60-odd languages. @hono/zod-openapi takes the `z` namespace as a
// value, so a bundler must keep all of it, and `z.locales` alone is about 260 KiB of the 440 KiB
// zod adds to the Worker. Nothing here reads `z.locales` (English is zod's built-in default).
// Mirrors node_modules/zod/index.js; pinned to zod 4's file layout, so a zod that moves these files
// fails the build loudly rather than shipping something else.
import * as z from "./zod-classic.ts";

export * from "./zod-classic.ts";
export { z, z as default };
