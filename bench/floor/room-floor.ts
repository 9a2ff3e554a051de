// The realtime runtime floor under workerd: a bare Durable Object room. It accepts WebSockets with
// the hibernation API (as ours does), sends each one fixed welcome frame, and on any text frame
// sends that same string to every socket in the room. Nothing else: no auth, no log, no presence,
// no sequence, no storage. Under the same workerd as ours, what it sustains is the most any room on
// one object could; the realtime suite compares ours against it (BENCHMARKS.md, "runtime floor").
//
// The workerd types are declared here, structurally, because bench/ is type-checked as Node code
// (tsconfig.node.json); the bundle is built by bench/floor/start.ts with esbuild, like app.ts.
import { FLOOR_ROOM_PATH, FLOOR_WELCOME } from "./room-frames.ts";

interface FloorSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}
interface FloorState {
  acceptWebSocket(ws: FloorSocket): void;
  getWebSockets(): FloorSocket[];
}
interface FloorEnv {
  ROOMS: { idFromName(name: string): unknown; get(id: unknown): { fetch(request: Request): Promise<Response> } };
}
declare const WebSocketPair: new () => { 0: FloorSocket; 1: FloorSocket };

/** Bound as ROOMS under the class name ours uses, so bench/ours/workerd.ts's config serves both. */
export class RoomObject {
  readonly #state: FloorState;

  constructor(state: FloorState) {
    this.#state = state;
  }

  fetch(request: Request): Response {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const pair = new WebSocketPair();
    this.#state.acceptWebSocket(pair[1]);
    pair[1].send(FLOOR_WELCOME);
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
  }

  webSocketMessage(_ws: FloorSocket, message: string | ArrayBuffer): void {
    if (typeof message !== "string") return;
    for (const ws of this.#state.getWebSockets()) {
      try {
        ws.send(message);
      } catch {
        // A socket mid-close: the others still get the message.
      }
    }
  }

  webSocketClose(ws: FloorSocket, code: number): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed.
    }
  }

  webSocketError(): void {}
}

export default {
  fetch(request: Request, env: FloorEnv): Response | Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return new Response("ok");
    const room = FLOOR_ROOM_PATH.exec(pathname)?.[1];
    if (!room) return new Response(null, { status: 404 });
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },
};
