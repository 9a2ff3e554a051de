import { createRoute } from "@hono/zod-openapi";
import { jsonBodyLimit } from "../../core/body-limit.ts";
import { bearerSecurity, createRouter, ProblemSchema, problems } from "../../core/openapi.ts";
import { ProblemError } from "../../core/problem.ts";
import { principalOf, requireUser } from "../auth/guards.ts";
import { isSessionRevoked } from "../auth/revocation.ts";
import {
  ConnectQuery,
  HistoryQuery,
  HistoryResponse,
  PresenceResponse,
  PublishBody,
  PublishResponse,
  RoomParams,
} from "./schemas.ts";
import { authenticateUpgrade, openRoomSocket, publishToRoom, readHistory, readPresence } from "./service.ts";
import { upgradeToken } from "./upgrade-token.ts";

/** A published message is one frame; the room enforces its exact limit (default 64 KiB). */
const MAX_PUBLISH_BODY_BYTES = 1024 * 1024;

const connect = createRoute({
  method: "get",
  path: "/{room}/ws",
  tags: ["Realtime"],
  summary: "Join a room over WebSocket",
  description:
    "Upgrade to a WebSocket. The token is sent as `Authorization: Bearer` or, for browsers, `?token=`. " +
    "`?since=<seq>` replays retained messages after that seq before live ones. Refusals are plain HTTP " +
    "problems answered before any upgrade. Frames: see docs/realtime.md.",
  security: bearerSecurity,
  request: { params: RoomParams, query: ConnectQuery },
  responses: {
    101: { description: "Switching Protocols: the socket is open" },
    ...problems(401, 403, 404, 422, 429, 503),
    426: { description: "Not a WebSocket upgrade", content: { "application/problem+json": { schema: ProblemSchema } } },
  },
});

const publish = createRoute({
  method: "post",
  path: "/{room}/messages",
  tags: ["Realtime"],
  summary: "Publish a message to a room (server side)",
  description: "Answers once the message is stored and sent to every connected member. `system`: admins only.",
  security: bearerSecurity,
  middleware: [requireUser(), jsonBodyLimit(MAX_PUBLISH_BODY_BYTES)] as const,
  request: {
    params: RoomParams,
    body: { required: true, content: { "application/json": { schema: PublishBody } } },
  },
  responses: {
    202: { description: "Stored and sent", content: { "application/json": { schema: PublishResponse } } },
    ...problems(401, 403, 404, 413, 415, 422, 429, 503),
  },
});

const history = createRoute({
  method: "get",
  path: "/{room}/messages",
  tags: ["Realtime"],
  summary: "Read a room's retained messages",
  security: bearerSecurity,
  middleware: [requireUser()] as const,
  request: { params: RoomParams, query: HistoryQuery },
  responses: {
    200: {
      description: "Retained messages, oldest first",
      content: { "application/json": { schema: HistoryResponse } },
    },
    ...problems(401, 403, 404, 422, 503),
  },
});

const presence = createRoute({
  method: "get",
  path: "/{room}/presence",
  tags: ["Realtime"],
  summary: "Who is connected to a room",
  security: bearerSecurity,
  middleware: [requireUser()] as const,
  request: { params: RoomParams },
  responses: {
    200: {
      description: "Connected users with their connection counts",
      content: { "application/json": { schema: PresenceResponse } },
    },
    ...problems(401, 403, 404, 503),
  },
});

const noStore = { "Cache-Control": "no-store" };

export const roomsRoutes = createRouter()
  .openapi(connect, async (c) => {
    // Authentication first, so an anonymous caller learns nothing else (not even Upgrade handling).
    const token = upgradeToken(c.req.header("Authorization"), c.req.valid("query").token);
    const principal = await authenticateUpgrade(token, c.var.config, c.var.log);
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new ProblemError({
        status: 426,
        title: "Upgrade Required",
        detail: "This route is a WebSocket upgrade.",
        headers: { Upgrade: "websocket" },
      });
    }
    const { deps, config } = c.var;
    return openRoomSocket(
      {
        room: c.req.valid("param").room,
        principal,
        since: c.req.valid("query").since,
        isSessionRevoked: (sessionId) => isSessionRevoked(deps, config, sessionId),
        upgrade: c.req.raw,
      },
      { gateway: deps.rooms, log: c.var.log },
    );
  })
  .openapi(publish, async (c) => {
    const principal = principalOf(c);
    const { deps, config } = c.var;
    const result = await publishToRoom(
      {
        room: c.req.valid("param").room,
        principal,
        data: c.req.valid("json").data,
        isSessionRevoked: (sessionId) => isSessionRevoked(deps, config, sessionId),
      },
      { gateway: deps.rooms, log: c.var.log },
    );
    return c.json(result, 202, noStore);
  })
  .openapi(history, async (c) => {
    const principal = principalOf(c);
    const query = c.req.valid("query");
    const result = await readHistory(
      { room: c.req.valid("param").room, principal, since: query.since, cursor: query.cursor, limit: query.limit },
      { gateway: c.var.deps.rooms, log: c.var.log },
    );
    return c.json(result, 200, noStore);
  })
  .openapi(presence, async (c) => {
    const principal = principalOf(c);
    const result = await readPresence(c.req.valid("param").room, principal, {
      gateway: c.var.deps.rooms,
      log: c.var.log,
    });
    return c.json(result, 200, noStore);
  });
