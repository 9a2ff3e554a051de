// Embedded Postgres for newcomers: PGlite (Postgres compiled to WASM) persisted in a directory and
// served over the Postgres wire protocol on 127.0.0.1, so every tool (the ws bridge, migrations,
// psql) talks to it as to a real server.
//
// PGlite is one backend, single-connection underneath, so many clients share it. This multiplexer
// makes the sharing behave like PostgreSQL would for each client:
//  - One client at a time owns the engine, from its first message until the engine says it is idle
//    again (ReadyForQuery 'I' with no extended-protocol batch open). A transaction (BEGIN … COMMIT)
//    and a Parse/Bind/Execute/Sync batch are therefore never interleaved with another client's
//    messages; other clients queue, first come first served. (@electric-sql/pglite-socket 0.2
//    interleaved per message, which gave other clients' portals errors like SQLSTATE 34000 and let
//    a concurrent refresh see another's half-done transaction.)
//  - A client that goes away (Terminate, a closed or broken socket) frees its slot at once; what it
//    left open is ended (Sync for an open batch, ROLLBACK for an open transaction) before the next
//    client runs. (pglite-socket ignored Terminate, so each closed Neon pool left a socket open, and
//    the 100-connection cap was reached after about 98 requests.)
//  - A client idle inside a transaction while others wait is ended after idleInTransactionMs, like
//    PostgreSQL's idle_in_transaction_session_timeout.
// Session state (SET, named prepared statements, temporary tables) is the one backend's and thus
// shared by all clients; the app uses none of it.
import { mkdir } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { listenOnLoopback } from "./free-port.ts";
import {
  CANCEL_REQUEST,
  FrontendReader,
  fatalError,
  GSSENC_REQUEST,
  type FrontendMessage,
  PROTOCOL_V3,
  queryMessage,
  ReadyForQueryTracker,
  SSL_REQUEST,
  SYNC_MESSAGE,
} from "./pg-wire.ts";

export interface PgliteServerOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Where PGlite keeps its files, e.g. .data/pglite; created if missing. */
  dataDir: string;
  /** Concurrent client connections; more are refused with SQLSTATE 53300 like PostgreSQL. Default 500: they cost a socket each (the one engine is shared), and every Worker request opens its own. */
  maxConnections?: number;
  /** A client idle in a transaction this long while others wait is disconnected. Default 30 s. */
  idleInTransactionMs?: number;
}

export interface PgliteStats {
  /** Client connections open now. */
  connections: number;
  /** Clients waiting for the engine now. */
  waiting: number;
  /** Client connections accepted since start. */
  accepted: number;
}

export interface PgliteServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  databaseUrl: string;
  host: string;
  port: number;
  stats(): PgliteStats;
  close(): Promise<void>;
}

/** Hands the one engine to one session at a time, in arrival order. */
class EngineLock {
  #owner: Session | null = null;
  readonly #waiting: { session: Session; grant: (granted: boolean) => void }[] = [];

  get waiting(): number {
    return this.#waiting.length;
  }

  isOwner(session: Session): boolean {
    return this.#owner === session;
  }

  /** Resolves true once `session` owns the engine, false if it was withdrawn first. */
  acquire(session: Session): Promise<boolean> {
    if (this.#owner === session) return Promise.resolve(true);
    if (this.#owner === null) {
      this.#owner = session;
      return Promise.resolve(true);
    }
    return new Promise((grant) => this.#waiting.push({ session, grant }));
  }

  release(session: Session): void {
    if (this.#owner !== session) return;
    const next = this.#waiting.shift();
    this.#owner = next?.session ?? null;
    next?.grant(true);
  }

  withdraw(session: Session): void {
    const at = this.#waiting.findIndex((w) => w.session === session);
    if (at >= 0) this.#waiting.splice(at, 1)[0]?.grant(false);
  }
}

class Session {
  readonly #reader = new FrontendReader();
  readonly #tracker = new ReadyForQueryTracker();
  #pending: FrontendMessage[] = [];
  #draining: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  /** A message went to the engine and no ReadyForQuery has come back since. */
  #midBatch = false;
  /** The last ReadyForQuery status: 'I' idle, 'T' in a transaction, 'E' failed transaction. */
  #status = "I";
  #idleTimer: NodeJS.Timeout | undefined;

  readonly socket: Socket;
  readonly #db: PGlite;
  readonly #lock: EngineLock;
  readonly #idleInTransactionMs: number;
  readonly #onClosed: (session: Session) => void;

  constructor(
    socket: Socket,
    db: PGlite,
    lock: EngineLock,
    idleInTransactionMs: number,
    onClosed: (session: Session) => void,
  ) {
    this.socket = socket;
    this.#db = db;
    this.#lock = lock;
    this.#idleInTransactionMs = idleInTransactionMs;
    this.#onClosed = onClosed;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => void this.close());
    socket.on("close", () => void this.close());
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    try {
      this.#pending.push(...this.#reader.push(chunk));
    } catch {
      void this.close(fatalError("08P01", "invalid message framing"));
      return;
    }
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
      if (this.#pending.length > 0 && !this.#closing) this.#onData(Buffer.alloc(0));
    });
  }

  async #drain(): Promise<void> {
    clearTimeout(this.#idleTimer);
    while (this.#pending.length > 0 && !this.#closing) {
      const message = this.#pending.shift() as FrontendMessage;
      if (message.kind === "startup") {
        if (message.code === SSL_REQUEST || message.code === GSSENC_REQUEST) {
          this.socket.write("N"); // no TLS on loopback; the client goes on in plain text
          continue;
        }
        if (message.code !== PROTOCOL_V3) {
          // CancelRequest (one engine: nothing to cancel) or a protocol we do not speak.
          void this.close(message.code === CANCEL_REQUEST ? undefined : fatalError("08P01", "unsupported protocol"));
          return;
        }
      } else if (message.type === "X") {
        void this.close(); // Terminate: the client is done, free its slot now
        return;
      }
      if (!(await this.#lock.acquire(this)) || this.#closing) return;
      try {
        await this.#exec(message.bytes, (data) => {
          if (!this.socket.destroyed) this.socket.write(data);
        });
      } catch {
        void this.close(fatalError("XX000", "the embedded database failed to run this message"));
        return;
      }
      if (this.#idle()) this.#lock.release(this);
    }
    if (this.#lock.isOwner(this) && !this.#closing) this.#armIdleTimer();
  }

  #idle(): boolean {
    return !this.#midBatch && this.#status === "I";
  }

  /** Runs one message on the engine (caller owns it) and follows ReadyForQuery in the answer. */
  async #exec(bytes: Uint8Array, onData: (data: Uint8Array) => void): Promise<void> {
    this.#midBatch = true;
    await this.#db.runExclusive(() =>
      this.#db.execProtocolRawStream(bytes, {
        onRawData: (data) => {
          const status = this.#tracker.push(data);
          if (status !== null) {
            this.#status = status;
            this.#midBatch = false;
          }
          onData(data);
        },
      }),
    );
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#lock.waiting > 0) {
        void this.close(fatalError("25P03", "terminating connection due to idle-in-transaction timeout"));
      } else {
        this.#armIdleTimer(); // nobody waits: holding the engine harms no one yet
      }
    }, this.#idleInTransactionMs);
    this.#idleTimer.unref();
  }

  /** Ends the connection (optionally with a last message), then whatever it left open on the engine. */
  close(last?: Buffer): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#idleTimer);
      this.#pending = [];
      if (!this.socket.destroyed) {
        if (last) this.socket.end(last);
        else this.socket.end();
        this.socket.destroySoon();
      }
      this.#lock.withdraw(this);
      await this.#draining?.catch(() => {});
      if (this.#lock.isOwner(this)) {
        const discard = (): void => {};
        try {
          if (this.#midBatch) await this.#exec(SYNC_MESSAGE, discard);
          if (this.#status !== "I") await this.#exec(queryMessage("ROLLBACK"), discard);
        } catch {
          // The engine itself failed; the next client will see it.
        }
        this.#lock.release(this);
      }
      this.#onClosed(this);
    })();
    return this.#closing;
  }
}

export async function startPgliteServer(opts: PgliteServerOptions): Promise<PgliteServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: opts.dataDir });
  const maxConnections = opts.maxConnections ?? 500;
  const idleInTransactionMs = opts.idleInTransactionMs ?? 30_000;
  const lock = new EngineLock();
  const sessions = new Set<Session>();
  let accepted = 0;
  let stopping = false;

  const server = createServer((socket) => {
    socket.on("error", () => {});
    if (stopping) {
      socket.destroy();
      return;
    }
    if (sessions.size >= maxConnections) {
      socket.end(fatalError("53300", "sorry, too many clients already"));
      socket.destroySoon();
      return;
    }
    accepted++;
    sessions.add(new Session(socket, db, lock, idleInTransactionMs, (s) => sessions.delete(s)));
  });
  let port: number;
  try {
    port = await listenOnLoopback(server, opts.port);
  } catch (err) {
    await db.close();
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: "127.0.0.1",
    port,
    stats: () => ({ connections: sessions.size, waiting: lock.waiting, accepted }),
    close: () => {
      // Stop accepting, end every client (rolling back what they left open), then close PGlite so it
      // flushes its files.
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all(
          [...sessions].map((s) => s.close(fatalError("57P01", "terminating connection: server stopping"))),
        );
        await closed;
        await db.close();
      })();
      return closing;
    },
  };
}
