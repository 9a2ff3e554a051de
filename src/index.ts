import { createApp } from "./app.ts";
import type { Bindings } from "./core/app-env.ts";
import { runScheduledJobs } from "./scheduled.ts";

export { RoomObject } from "../durable/room-object.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledJobs(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Bindings>;
