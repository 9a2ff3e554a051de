import { createRouter } from "../../core/openapi.ts";

/** settings routes: filled in by the settings feature. */
export const settingsRoutes = createRouter();
