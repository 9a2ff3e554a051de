// The Worker-to-room contract lives in protocol/room-rpc.ts, which the Worker imports too.
export {
  CONNECT_HEADER,
  type ConnectRefusal,
  type ConnectRequest,
  connectRequestSchema,
  REFUSAL_HEADER,
  SERVER_SENDER_ID,
} from "../protocol/room-rpc.ts";
