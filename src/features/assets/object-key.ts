/**
 * Object keys are made by the server only: `<visibility>/<ownerId>/<assetId>/<safe name>`. The
 * visibility prefix lets the bucket's public domain serve `public/` alone (see docs/assets.md);
 * owner and asset ids are UUIDs; the name is a sanitised copy of the client's filename kept for
 * readable downloads. Nothing the client sends can add a path segment, `..`, or a control character.
 */
const MAX_NAME_LENGTH = 100;

export function sanitiseFilename(filename: string | undefined): string {
  const base = (filename ?? "").split(/[\\/]/).pop() ?? "";
  const safe = base
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // drop the accents NFKD split off
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/-*\.-*/g, ".") // "photo (1).png" → "photo-1.png", not "photo-1-.png"
    .replace(/^[.-]+|[.-]+$/g, "");
  if (!safe) return "file";
  if (safe.length <= MAX_NAME_LENGTH) return safe;
  // Keep the extension when truncating: browsers and tools use it.
  const dot = safe.lastIndexOf(".");
  const ext = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : "";
  return safe.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
}

/** The filename shown to users: control characters removed, trimmed, at most 255 characters. */
export function displayFilename(filename: string | undefined): string {
  const cleaned = (filename ?? "")
    .replace(/\p{Cc}/gu, "")
    .trim()
    .slice(0, 255);
  return cleaned || "file";
}

export function objectKeyFor(
  visibility: "public" | "private",
  ownerId: string,
  assetId: string,
  filename: string | undefined,
): string {
  return `${visibility}/${ownerId}/${assetId}/${sanitiseFilename(filename)}`;
}
