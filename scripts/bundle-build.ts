/**
 * Everything the Worker bundle and its tests read that is built, not committed, in one prelude: the
 * npm pre-scripts of dev, test, test:contract, bench and deploy run it (`npm run bundle:build` by
 * hand, before a bare `wrangler deploy` or `wrangler dev`).
 * - public/console/: the web console and the docs page's script (scripts/console-build.ts);
 * - public/_templates/openapi-routes.json: the route-dependent part of /openapi.json, which the
 *   Worker reads through its ASSETS binding (scripts/openapi-build.ts);
 * - .bundle/client-s3/ and .bundle/zod/ (gitignored): the wrangler.toml [alias] targets made from
 *   the installed @aws-sdk/client-s3 and zod (scripts/s3-client-build.ts, scripts/zod-classic-build.ts).
 * Type checking and linting need none of it.
 *
 *   npm run bundle:build
 */
import { buildConsole, CONSOLE_OUT } from "./console-build.ts";
import { buildOpenApi, PREBUILT_PATH } from "./openapi-build.ts";
import { buildS3Client, OUT_DIR } from "./s3-client-build.ts";
import { buildZodClassic, ZOD_OUT_DIR } from "./zod-classic-build.ts";

const [s3Files, zodFiles] = await Promise.all([buildS3Client(), buildZodClassic()]);
console.log(`bundle:build: ${OUT_DIR} (${s3Files} files), ${ZOD_OUT_DIR} (${zodFiles} files)`);
await buildConsole();
console.log(`bundle:build: ${CONSOLE_OUT}`);
const changed = await buildOpenApi();
console.log(`bundle:build: ${PREBUILT_PATH}${changed ? " (updated)" : " (unchanged)"}`);
