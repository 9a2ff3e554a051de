// The runtime floor: a bare Hono app with one JSON route and nothing else (no middleware, no auth,
// no I/O). Under the same workerd (or the same Node) as ours, what it serves is the most any Hono
// service could on that runtime; ours is compared against it, route by route.
//
// Same request in, same body out: the HTTP suite sends it ours' request headers, and before the
// rounds hands it the body ours answers on each path it loads (PUT /__floor/body?path=…), so the
// pair differs only in what the app does in between (auth, routing, headers), not in how many bytes
// the runtime parses and writes. A path it was given no body for answers {"status":"ok"}.
import { Hono } from "hono";

const app = new Hono();
const bodies = new Map<string, string>();
const HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-store" };

app.put("/__floor/body", async (c) => {
  const path = c.req.query("path");
  if (!path) return c.text("path required", 400);
  bodies.set(path, await c.req.text());
  return c.body(null, 204);
});
// Every path the HTTP suite loads answers the same small JSON body, or the body it was handed.
app.get("*", (c) => c.body(bodies.get(c.req.path) ?? '{"status":"ok"}', 200, HEADERS));

export default app;
