/**
 * The route schema of the service (paths, methods, inputs, outputs), for the typed client. In this
 * repository it is computed from src/app.ts; the published package ships a standalone copy that
 * client/build.ts prints from the same type, so consumers need neither src/ nor the Workers types.
 */
import type { ExtractSchema } from "hono/types";
import type { AppType } from "../src/app.ts";

export type AppSchema = ExtractSchema<AppType>;
