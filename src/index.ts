import { createApp } from "./app.ts";
import type { Bindings } from "./core/app-env.ts";

export { RoomObject } from "../durable/room-object.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
