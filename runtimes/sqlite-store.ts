// The SqlStore seam of durable/message-log.ts over an in-memory node:sqlite database (Node 24, Deno 2
// and Bun all ship node:sqlite), so the in-process room keeps its log with the very same code and
// retention rules as the Durable Object.
import { DatabaseSync } from "node:sqlite";
import type { SqlStore } from "../durable/message-log.ts";

type Value = number | string | null;

export interface MemorySqlStore extends SqlStore {
  close(): void;
}

export function memorySqlStore(): MemorySqlStore {
  const db = new DatabaseSync(":memory:");
  const exec = (query: string, ...bindings: unknown[]) => {
    const rows = db.prepare(query).all(...(bindings as Value[]));
    return { toArray: () => rows, [Symbol.iterator]: () => rows[Symbol.iterator](), one: () => rows[0] };
  };
  return {
    // Only exec/toArray/iteration are used by MessageLog; the cursor shape is a structural subset.
    sql: { exec } as unknown as SqlStorage,
    transactionSync<T>(closure: () => T): T {
      db.exec("BEGIN");
      try {
        const result = closure();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    close: () => db.close(),
  };
}
