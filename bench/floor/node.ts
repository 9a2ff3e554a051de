// The bare Hono floor on @hono/node-server, the server ours uses on Node: `PORT=… node bench/floor/node.ts`.
import { serve } from "@hono/node-server";
import app from "./app.ts";

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: "127.0.0.1" }, (info) =>
  process.stdout.write(`listening ${info.port}\n`),
);
