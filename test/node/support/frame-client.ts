// A plain ws client for realtime tests: keeps every frame, the message seqs in arrival order (batches
// unpacked) and the presence it was told, and waits on conditions checked at every frame.
import WebSocket from "ws";

export type Frame = Record<string, unknown> & { type: string };

/** A plain ws client that keeps every frame and the message seqs in arrival order. */
export class Client {
  readonly user: string;
  readonly seqs: number[] = [];
  readonly frames: Frame[] = [];
  readonly present = new Set<string>();
  ws!: WebSocket;
  /** The close code once the socket closed. */
  closedWith: number | undefined;
  #waiters: Array<() => void> = [];

  constructor(user: string) {
    this.user = user;
  }

  open(url: string): Promise<void> {
    this.ws = new WebSocket(url);
    this.ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      const messages = frame.type === "batch" ? (frame.messages as Frame[]) : frame.type === "message" ? [frame] : [];
      for (const m of messages) this.seqs.push(m.seq as number);
      if (frame.type === "presence" && frame.action === "sync") {
        this.present.clear();
        for (const u of frame.users as Array<{ id: string }>) this.present.add(u.id);
      }
      if (frame.type === "presence" && frame.action === "diff") {
        for (const u of frame.joined as Array<{ id: string }>) this.present.add(u.id);
        for (const u of frame.left as Array<{ id: string }>) this.present.delete(u.id);
      }
      for (const w of this.#waiters) w();
    });
    this.ws.on("close", (code) => {
      this.closedWith = code;
      for (const w of this.#waiters) w();
    });
    return new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }

  /** Resolves once `pred` holds (checked on every frame); rejects after `ms`. */
  until(pred: () => boolean, what: string, ms = 15_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`${this.user}: no ${what} within ${ms} ms (seqs ${this.seqs.length})`));
      }, ms);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  get lastSeq(): number {
    return this.seqs.at(-1) ?? 0;
  }
}
