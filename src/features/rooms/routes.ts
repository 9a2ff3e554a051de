import { createRouter } from "../../core/openapi.ts";

/** rooms routes: filled in by the rooms feature. */
export const roomsRoutes = createRouter();
