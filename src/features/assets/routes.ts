import { createRouter } from "../../core/openapi.ts";

/** assets routes: filled in by the assets feature. */
export const assetsRoutes = createRouter();
