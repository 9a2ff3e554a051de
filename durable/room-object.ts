import { DurableObject } from "cloudflare:workers";

/** Placeholder until the realtime rooms land: one object per room. */
export class RoomObject extends DurableObject<Cloudflare.Env> {
  override async fetch(): Promise<Response> {
    return new Response("rooms are not available yet", { status: 503 });
  }
}
