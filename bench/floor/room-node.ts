// The realtime runtime floor on Node: `PORT=… node bench/floor/room-node.ts`. One process, the `ws`
// library (what socket.io's engine.io runs on), the same behaviour as room-floor.ts: a fixed welcome
// on connect, every text frame sent as it is to every socket of its room, nothing else. It is the
// most a one-process Node room could do, the floor beside socket.io's rows.
import { createServer } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";
import { FLOOR_ROOM_PATH, FLOOR_WELCOME } from "./room-frames.ts";

const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const server = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404).end(req.url === "/healthz" ? "ok" : "");
});

server.on("upgrade", (req, socket, head) => {
  const room = FLOOR_ROOM_PATH.exec(new URL(req.url ?? "/", "http://x").pathname)?.[1];
  if (!room) {
    socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const inRoom = rooms.get(room) ?? new Set<WebSocket>();
    rooms.set(room, inRoom);
    inRoom.add(ws);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      // The received bytes as they are, as text frames: no decode and re-encode per socket.
      for (const member of inRoom) member.send(data, { binary: false });
    });
    ws.on("close", () => inRoom.delete(ws));
    ws.on("error", () => inRoom.delete(ws));
    ws.send(FLOOR_WELCOME);
  });
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => process.stdout.write("listening\n"));
