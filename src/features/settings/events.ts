import type { RoomPublisher } from "../../adapters/rooms.ts";
import type { SettingChanged } from "./model.ts";

/** The one thing the settings services need from realtime: announce a committed change. */
export interface SettingsEvents {
  publish(event: SettingChanged): Promise<void>;
}

/** The realtime room every client may join to learn of changes (read-only for clients). */
export const SETTINGS_ROOM = "system";

/** `rooms` is asked for only when a change is published, so reads never build a realtime client. */
export const roomEvents = (rooms: () => RoomPublisher): SettingsEvents => ({
  async publish(event) {
    await rooms().publish(SETTINGS_ROOM, event);
  },
});
