import type { z } from "zod";
import type { Deps } from "../../core/deps.ts";

/**
 * Reads a setting for the code itself (e.g. upload limits), validated by `schema`, falling back
 * to `fallback` when it is missing, invalid, or the stores are unavailable.
 * Placeholder until the settings feature lands: always the fallback.
 */
export async function readSettingValue<T>(_deps: Deps, _key: string, _schema: z.ZodType<T>, fallback: T): Promise<T> {
  return fallback;
}
