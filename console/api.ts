// The console's one client of the service: the SDK, pointed at the origin that served the page (the
// console is the service's own), with the session in localStorage so every tab shares it.
import { ApiError, createClient } from "../client/index.ts";

export const client = createClient({ url: location.origin, storage: "local" });

/** JSON over the session's fetch; answers of 400 or more arrive as ApiError (thrown by the SDK). */
export async function call<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("Content-Type", "application/json");
  const res = await client.fetch(`${client.url}${path}`, {
    ...rest,
    headers,
    ...(json !== undefined && { body: JSON.stringify(json) }),
  });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** What an error says to a person: the problem's title and detail, each field error, the request id. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = (error.errors ?? []).map((f) => `${f.path || "(body)"}: ${f.message}`);
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return [`${error.status} ${error.title}${error.detail ? `: ${error.detail}` : ""}${id}`, ...fields].join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

export const isAdmin = (): boolean => client.auth.user?.roles.includes("admin") ?? false;
