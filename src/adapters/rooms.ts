/**
 * All the services need from realtime: publish an event to a room. Settings publish to `system`,
 * assets to `user:<id>`. Implemented over the room Durable Objects (durable/).
 */
export interface RoomPublisher {
  publish(room: string, data: unknown): Promise<{ seq: number }>;
  /** Closes every open socket of a revoked session, in every room it joined. */
  disconnectSession(userId: string, sessionId: string): Promise<void>;
}

/** Placeholder until realtime lands: publishing is refused so callers exercise their failure path. */
export function createRoomPublisher(_namespace: DurableObjectNamespace): RoomPublisher {
  return {
    publish: async () => {
      throw new Error("realtime rooms are not available yet");
    },
    disconnectSession: async () => {},
  };
}
