/**
 * Shapes of the service's answers that the SDK's own helpers return, taken from the route schema
 * (app-schema.ts) so they follow the routes: one source of truth, checked at compile time.
 */
import type { AppSchema } from "./app-schema.ts";

type Success<T> = T extends { status: 200 | 201 } ? T : never;
type OutputOf<Path extends keyof AppSchema, Method extends keyof AppSchema[Path]> =
  Success<AppSchema[Path][Method]> extends { output: infer O } ? O : never;

export type User = OutputOf<"/v1/auth/me", "$get">;
export type TokenPair = OutputOf<"/v1/auth/login", "$post">;
export type Asset = OutputOf<"/v1/assets/:id", "$get">;
export type CreatedUpload = OutputOf<"/v1/assets/uploads", "$post">;
export type AssetUrl = OutputOf<"/v1/assets/:id/url", "$get">;
