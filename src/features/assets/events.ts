import type { RoomPublisher } from "../../adapters/rooms.ts";
import { userRoom } from "../../../protocol/frames.ts";
import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";
import { withTimeout } from "../../../common/timeout.ts";
import type { AssetView } from "./view.ts";

export type AssetEventType = "asset.ready" | "asset.deleted";

/** Fire-and-forget notifications: a failed publish is logged and never fails the request. */
export interface AssetEvents {
  publish(type: AssetEventType, asset: AssetView): void;
}

/** Realtime delivery is best effort; the owner can always re-list. */
const PUBLISH_TIMEOUT_MS = 3_000;

export function roomAssetEvents(rooms: RoomPublisher, background: BackgroundTasks, log: Logger): AssetEvents {
  return {
    publish(type, asset) {
      background.waitUntil(
        withTimeout("rooms", PUBLISH_TIMEOUT_MS, rooms.publish(userRoom(asset.ownerId), { type, asset })).then(
          () => undefined,
          (error: unknown) => log.warn("publishing an asset event failed", { type, assetId: asset.id, error }),
        ),
      );
    },
  };
}
