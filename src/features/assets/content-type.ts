/**
 * The media type without parameters, lower-cased (`Image/PNG; x=y` → `image/png`), or null when
 * the value is not `type/subtype`. Limits and magic-byte checks compare this form.
 */
export function essenceOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const essence = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence) ? essence : null;
}
