import { z } from "zod";
import type { Deps } from "../../core/deps.ts";
import { readSettingValue, type TypedSettingScope } from "../settings/typed-setting.ts";

/** Upload limits, adjustable at run time through settings; these are the fallbacks. */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;

/**
 * HTML, SVG and scripts are absent on purpose: the public bucket domain would serve them as
 * active content. Octet-stream is allowed so arbitrary files can still be stored for download.
 */
export const DEFAULT_ALLOWED_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/avif",
  "application/pdf",
  "text/plain",
  "text/csv",
  "application/json",
  "application/zip",
  "application/octet-stream",
  "audio/mpeg",
  "video/mp4",
];

/** R2's (and S3's) ceiling for one object via single PUT; a setting above it would be a lie. */
const MAX_CONFIGURABLE_BYTES = 5 * 1024 ** 3;

export interface UploadLimits {
  maxBytes: number;
  allowedTypes: ReadonlySet<string>;
}

export type LoadLimits = () => Promise<UploadLimits>;

export const MAX_UPLOAD_BYTES_KEY = "assets.max-upload-bytes";
export const ALLOWED_TYPES_KEY = "assets.allowed-types";

const maxBytesSchema = z.number().int().positive().max(MAX_CONFIGURABLE_BYTES);
const allowedTypesSchema = z.array(z.string().min(3).max(255)).max(200);

/** With `scope` the reads go through the settings cache (Redis) rather than Postgres each time. */
export function settingsLimits(deps: Deps, scope?: TypedSettingScope): LoadLimits {
  return async () => {
    const [maxBytes, types] = await Promise.all([
      readSettingValue(deps, MAX_UPLOAD_BYTES_KEY, maxBytesSchema, DEFAULT_MAX_UPLOAD_BYTES, scope),
      readSettingValue(deps, ALLOWED_TYPES_KEY, allowedTypesSchema, DEFAULT_ALLOWED_TYPES, scope),
    ]);
    return { maxBytes, allowedTypes: new Set(types.map((t) => t.toLowerCase())) };
  };
}
