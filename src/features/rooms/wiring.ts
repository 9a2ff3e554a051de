import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import type { Principal } from "../../core/principal.ts";
import { isSessionRevoked } from "../auth/revocation.ts";
import type { HistoryInput, OpenSocketInput, PublishInput, RoomsContext } from "./model.ts";
import { authenticateUpgrade, openRoomSocket, publishToRoom, readHistory, readPresence } from "./service.ts";

/** What the rooms wiring is built from: the request's clients, config and logger (`c.var` fits). */
export interface RoomsScope {
  deps: Deps;
  config: Config;
  log: Logger;
}

/**
 * The rooms feature as routes use it: one object per request, each method taking the caller and
 * the request's input. Lazy: the room gateway is reached only by a method that uses it, so a
 * refused upgrade touches nothing.
 */
export function roomsServiceFor({ deps, config, log }: RoomsScope) {
  const ctx: RoomsContext = {
    get gateway() {
      return deps.rooms;
    },
    log,
    isSessionRevoked: (sessionId) => isSessionRevoked(deps, config, sessionId),
  };
  return {
    /** Verifies an upgrade's token: pure computation, like the bearer guards. */
    authenticate: (token: string | undefined) => authenticateUpgrade(token, config, log),
    connect: (principal: Principal, input: OpenSocketInput) => openRoomSocket(ctx, principal, input),
    publish: (principal: Principal, input: PublishInput) => publishToRoom(ctx, principal, input),
    history: (principal: Principal, input: HistoryInput) => readHistory(ctx, principal, input),
    presence: (principal: Principal, room: string) => readPresence(ctx, principal, room),
  };
}

export type RoomsService = ReturnType<typeof roomsServiceFor>;
