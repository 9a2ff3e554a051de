/**
 * All the services need from realtime: publish an event to a room. Settings publish to `system`,
 * assets to `user:<id>`; the Durable Object implementation lives in `src/features/rooms`.
 */
export interface RoomPublisher {
  publish(room: string, data: unknown): Promise<{ seq: number }>;
}
