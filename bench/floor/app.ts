// The runtime floor: a bare Hono app with one JSON route and nothing else (no middleware, no auth,
// no I/O). Under the same workerd (or the same Node) as ours, what it serves is the most any Hono
// service could on that runtime; ours is compared against it, route by route.
import { Hono } from "hono";

const app = new Hono();
// Every path the HTTP suite loads answers the same small JSON body.
app.get("*", (c) => c.json({ status: "ok" }, 200, { "Cache-Control": "no-store" }));

export default app;
