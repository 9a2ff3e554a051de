// The frames the realtime runtime floors (room-floor.ts under workerd, room-node.ts on Node) and
// their publisher exchange. They have the shapes of protocol/frames.ts (welcome, message) so the
// realtime suite's own client measures a floor with the same code that measures ours, but none of
// the meaning: no user, no sequence, no time stamp of the server's. A floor forwards the publisher's
// string verbatim to every socket, so what it costs is the runtime's accept and send, nothing else.

/** Sent once to every socket on accept: the client's connect completes on a `welcome`. */
export const FLOOR_WELCOME =
  '{"type":"welcome","room":"floor","connectionId":"floor","user":{"id":"00000000-0000-4000-8000-000000000000"},"seq":0}';

/** A user id as long as ours' (a UUID), so a floor frame is as long as ours' `message` frame. */
const FROM = '{"id":"00000000-0000-4000-8000-000000000000"}';

/**
 * The string the publisher sends to a floor, which the floor broadcasts as it is: a `message` frame
 * (protocol/frames.ts) carrying `data`, with the fields ours adds (seq, from, ts) filled in by the
 * publisher so the frame on the wire is the size of ours'.
 */
export function floorMessageFrame(data: unknown, seq: number, ts = Date.now()): string {
  return `{"type":"message","seq":${seq},"from":${FROM},"data":${JSON.stringify(data)},"ts":${ts}}`;
}

/** The path both floors accept sockets on, the same as ours': /v1/rooms/<room>/ws. */
export const FLOOR_ROOM_PATH = /^\/v1\/rooms\/([^/]+)\/ws$/;
