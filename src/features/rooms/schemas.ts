import { z } from "@hono/zod-openapi";
import { ROOM_NAME_PATTERN } from "../../../protocol/frames.ts";

/** Most history items one request returns; the rest is reached with `nextCursor`. */
export const MAX_HISTORY_PAGE = 500;
export const DEFAULT_HISTORY_PAGE = 100;

// Names are checked in the handlers (a bad name is a 404: no such room can exist), so the path
// parameter itself only carries the documented pattern.
export const RoomParams = z.object({
  room: z.string().openapi({
    param: { name: "room", in: "path" },
    description: "Room name",
    pattern: ROOM_NAME_PATTERN.source,
    example: "lobby",
  }),
});

const seqParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const ConnectQuery = z.object({
  token: z.string().max(8192).optional().openapi({
    description:
      "Access token, for clients that cannot send `Authorization` on an upgrade (browsers). Accepted on this route only.",
  }),
  since: seqParam
    .optional()
    .openapi({ description: "Replay retained messages after this sequence number before live ones." }),
});

export const HistoryQuery = z.object({
  since: seqParam
    .optional()
    .openapi({ description: "Return messages after this sequence number (default 0: all retained)." }),
  cursor: z
    .string()
    .max(64)
    .optional()
    .openapi({ description: "`nextCursor` of the previous page; overrides `since`." }),
  limit: z.coerce.number().int().min(1).max(MAX_HISTORY_PAGE).default(DEFAULT_HISTORY_PAGE),
});

const UserRef = z.object({ id: z.string() });

export const RoomMessage = z
  .object({
    seq: z.number().int(),
    from: UserRef,
    data: z.unknown().openapi({ description: "The published JSON value" }),
    ts: z.number().int().openapi({ description: "Epoch milliseconds" }),
  })
  .openapi("RoomMessage");

export const HistoryResponse = z
  .object({
    items: z.array(RoomMessage),
    nextCursor: z.string().nullable(),
    seq: z.number().int().openapi({ description: "The latest sequence number in the room" }),
    oldestSeq: z.number().int().openapi({
      description:
        "The first retained sequence number. Asking for messages after a seq below oldestSeq - 1 means some are gone (resync).",
    }),
  })
  .openapi("RoomHistory");

export const PublishBody = z
  .object({
    // Any JSON value: the body was JSON-parsed, so only presence needs checking. (z.json() would
    // check the same but is recursive, which the OpenAPI generator cannot walk.)
    data: z
      .unknown()
      .refine((v) => v !== undefined, "is required")
      .openapi({ description: "Any JSON value; at most the room frame limit (default 64 KiB) serialized." }),
  })
  .openapi("RoomPublish");

export const PublishResponse = z.object({ seq: z.number().int() }).openapi("RoomPublished");

export const PresenceResponse = z
  .object({ users: z.array(z.object({ id: z.string(), connections: z.number().int() })) })
  .openapi("RoomPresence");
