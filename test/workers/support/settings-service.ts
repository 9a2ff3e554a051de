import type { SettingsContext, Viewer } from "../../../src/features/settings/model.ts";
import {
  getSetting,
  listSettings,
  putSetting,
  removeSetting,
  settingHistory,
} from "../../../src/features/settings/service.ts";
import type { PutInput, RemoveInput } from "../../../src/features/settings/writer.ts";

/**
 * The settings service functions bound to one context, for the tests that drive the service without
 * a request (the routes go through wiring.ts's settingsServiceFor, which binds them the same way).
 */
export function settingsOver(ctx: SettingsContext) {
  return {
    list: (viewer: Viewer) => listSettings(ctx, viewer),
    get: (viewer: Viewer, key: string) => getSetting(ctx, viewer, key),
    put: (input: PutInput) => putSetting(ctx, input),
    remove: (input: RemoveInput) => removeSetting(ctx, input),
    history: (key: string, options: Parameters<typeof settingHistory>[2]) => settingHistory(ctx, key, options),
  };
}
