import { createRouter } from "../../core/openapi.ts";

/** auth routes: filled in by the auth feature. */
export const authRoutes = createRouter();
