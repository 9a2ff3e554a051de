import { jsonBodyLimit } from "../../core/body-limit.ts";
import { bearerSecurity, createRouter, ProblemSchema, problems } from "../../core/openapi.ts";
import { bearer, jsonBody, jsonResponse, NO_STORE, routeDeclarer } from "../../core/openapi-route.ts";
import { principalOf, requireUser } from "../auth/guards.ts";
import {
  ConnectQuery,
  HistoryQuery,
  HistoryResponse,
  PresenceResponse,
  PublishBody,
  PublishResponse,
  RoomParams,
} from "./schemas.ts";
import { upgradeRequired } from "./problems.ts";
import { upgradeToken } from "./upgrade-token.ts";
import { roomsServiceFor } from "./wiring.ts";

/** A published message is one frame; the room enforces its exact limit (default 64 KiB). */
const MAX_PUBLISH_BODY_BYTES = 1024 * 1024;

const route = routeDeclarer("Realtime");

const connect = route("get", "/{room}/ws", {
  summary: "Join a room over WebSocket",
  description:
    "Upgrade to a WebSocket. The token is sent as `Authorization: Bearer` or, for browsers, `?token=`. " +
    "`?since=<seq>` replays retained messages after that seq before live ones. Refusals are plain HTTP " +
    "problems answered before any upgrade. Frames: see docs/realtime.md.",
  // Not behind a guard: the token may come as ?token= (browsers), so the handler reads it.
  security: bearerSecurity,
  request: { params: RoomParams, query: ConnectQuery },
  responses: {
    101: { description: "Switching Protocols: the socket is open" },
    ...problems(401, 403, 404, 422, 429, 503),
    426: { description: "Not a WebSocket upgrade", content: { "application/problem+json": { schema: ProblemSchema } } },
  },
});

const publish = route("post", "/{room}/messages", {
  summary: "Publish a message to a room (server side)",
  description: "Answers once the message is stored and sent to every connected member. `system`: admins only.",
  ...bearer(requireUser(), jsonBodyLimit(MAX_PUBLISH_BODY_BYTES)),
  request: { params: RoomParams, body: jsonBody(PublishBody) },
  responses: {
    202: jsonResponse(PublishResponse, "Stored and sent"),
    ...problems(401, 403, 404, 413, 415, 422, 429, 503),
  },
});

const history = route("get", "/{room}/messages", {
  summary: "Read a room's retained messages",
  ...bearer(requireUser()),
  request: { params: RoomParams, query: HistoryQuery },
  responses: {
    200: jsonResponse(HistoryResponse, "Retained messages, oldest first"),
    ...problems(401, 403, 404, 422, 503),
  },
});

const presence = route("get", "/{room}/presence", {
  summary: "Who is connected to a room",
  ...bearer(requireUser()),
  request: { params: RoomParams },
  responses: {
    200: jsonResponse(PresenceResponse, "Connected users with their connection counts"),
    ...problems(401, 403, 404, 503),
  },
});

export const roomsRoutes = createRouter()
  .openapi(connect, async (c) => {
    const rooms = roomsServiceFor(c.var);
    // Authentication first, so an anonymous caller learns nothing else (not even Upgrade handling).
    const principal = await rooms.authenticate(upgradeToken(c.req.header("Authorization"), c.req.valid("query").token));
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") throw upgradeRequired();
    const { room } = c.req.valid("param");
    return rooms.connect(principal, { room, since: c.req.valid("query").since, upgrade: c.req.raw });
  })
  .openapi(publish, async (c) => {
    const { room } = c.req.valid("param");
    const result = await roomsServiceFor(c.var).publish(principalOf(c), { room, data: c.req.valid("json").data });
    return c.json(result, 202, NO_STORE);
  })
  .openapi(history, async (c) => {
    const { since, cursor, limit } = c.req.valid("query");
    const input = { room: c.req.valid("param").room, since, cursor, limit };
    const result = await roomsServiceFor(c.var).history(principalOf(c), input);
    return c.json(result, 200, NO_STORE);
  })
  .openapi(presence, async (c) =>
    c.json(await roomsServiceFor(c.var).presence(principalOf(c), c.req.valid("param").room), 200, NO_STORE),
  );
