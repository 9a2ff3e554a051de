// One room whose sockets this process holds: the room core (durable/room-core.ts) over a Map of the
// room's open sockets and their attachments. The in-process rooms (local-rooms.ts) and the linked
// rooms off Workers (linked/linked-rooms.ts) are both this host; they differ only in the log (the
// room's own node:sqlite log, or a log shared through Redis) and in how a connect is admitted.
import type { SocketAttachment } from "../durable/attachment.ts";
import { PresenceLedger } from "../durable/presence.ts";
import { type RoomHost, RoomCore, roomStorage, type SharedRoomLog } from "../durable/room-core.ts";
import type { RoomLimits } from "../durable/room-limits.ts";
import { ERROR_CODES, encodeServerFrame } from "../protocol/frames.ts";
import type { Logger } from "../common/logger.ts";
import { type MemorySqlStore, memorySqlStore } from "./sqlite-store.ts";

/** The runtime's side of a socket the room holds. */
export interface RoomSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet sent (the runtime's bufferedAmount). */
  bufferedAmount(): number;
}

/** What the room does with a socket's events; the runtime adapter calls these. */
export interface SocketEvents {
  message(data: string | ArrayBuffer): void;
  closed(code: number): void;
}

/**
 * The runtime's WebSocket upgrade (Deno.upgradeWebSocket, Bun's server.upgrade, ws on Node).
 * `onOpen` runs once the socket is open and returns the handlers for its events. The returned
 * Response is what the route answers; null when this request cannot be upgraded here.
 */
export interface SocketUpgrader {
  upgrade(request: Request, onOpen: (socket: RoomSocket) => SocketEvents): Response | null;
}

export interface InProcessRoomOptions {
  limits: RoomLimits;
  logger: Logger;
  /** A log shared with other instances (linked rooms); absent: the room's own log in node:sqlite memory. */
  sharedLog?: SharedRoomLog;
  /** Called once for every socket the room forgot. */
  onDropped?: (attachment: SocketAttachment) => void;
}

export class InProcessRoom {
  readonly name: string;
  readonly sockets = new Map<RoomSocket, SocketAttachment>();
  readonly core: RoomCore<RoomSocket>;
  lastActive = Date.now();
  readonly #store: MemorySqlStore = memorySqlStore();
  readonly #logger: Logger;
  #closed = false;

  constructor(name: string, options: InProcessRoomOptions) {
    this.name = name;
    this.#logger = options.logger;
    const sockets = this.sockets;
    const host: RoomHost<RoomSocket> = {
      sockets: () => sockets.keys(),
      *socketsOfSession(sessionId) {
        for (const [socket, a] of sockets) if (a.sessionId === sessionId) yield socket;
      },
      attachment: (socket) => sockets.get(socket),
      // A dropped socket leaves the Map at once: the core then never sees it again.
      setAttachment: (socket, a) => {
        if (a.dropped) sockets.delete(socket);
        else sockets.set(socket, a);
      },
      send: (socket, text) => socket.send(text),
      close: (socket, code, reason) => socket.close(code, reason),
      bufferedAmount: (socket) => socket.bufferedAmount(),
      // No tick after close: the store is gone then.
      schedule: (delayMs, run) => {
        setTimeout(() => {
          if (!this.#closed) run();
        }, delayMs);
      },
    };
    const storage = options.sharedLog
      ? { log: options.sharedLog, ledger: new PresenceLedger(this.#store) }
      : roomStorage(this.#store, options.limits);
    this.core = new RoomCore({
      host,
      ...storage,
      limits: options.limits,
      logger: options.logger,
      ...(options.onDropped && { onDropped: options.onDropped }),
    });
    this.core.init();
  }

  /** Admits an opened socket and returns its event handlers (no exception leaves them). */
  open(socket: RoomSocket, attachment: SocketAttachment, since: number | undefined): SocketEvents {
    this.lastActive = Date.now();
    void this.core.admit(socket, attachment, since);
    return {
      message: (data) => {
        this.lastActive = Date.now();
        try {
          this.core.receive(socket, data);
        } catch (error) {
          this.#logger.error("frame handling failed", { error });
          try {
            socket.send(
              encodeServerFrame({
                type: "error",
                code: ERROR_CODES.internal,
                message: "The room could not handle that frame.",
              }),
            );
          } catch {
            // Closing already.
          }
        }
      },
      closed: () => {
        this.lastActive = Date.now();
        this.core.drop(socket);
      },
    };
  }

  /** Closes every socket (1001) and frees the store. */
  close(): void {
    this.#closed = true;
    this.core.closeAll(1001, "server shutting down");
    this.sockets.clear();
    this.#store.close();
  }
}
