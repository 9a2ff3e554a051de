import { createApp } from "./app.ts";
import type { Bindings } from "./core/app-env.ts";
import { sweepPendingUploads } from "./features/assets/sweeper.ts";

export { RoomObject } from "../durable/room-object.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(sweepPendingUploads(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Bindings>;
