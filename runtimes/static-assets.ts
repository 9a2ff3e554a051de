// The files Workers Static Assets serves on Workers (wrangler.toml `[assets]`: public/, built by
// `npm run console:build`), served the same way on Node, Deno and Bun before a request reaches the
// app: GET/HEAD of a file under public/, `/dir` redirected to `/dir/` and `/dir/` answered with its
// index.html (the platform's html_handling = "auto-trailing-slash"). Anything else: null (the app).
// Only paths under PREFIXES touch the file system, so API requests pay one string comparison.
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, posix, sep } from "node:path";
import { fileURLToPath } from "node:url";

const PUBLIC_DIR = fileURLToPath(new URL("../public", import.meta.url).href);
/** What scripts/console-build.ts writes into public/. */
const PREFIXES = ["/console"];
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

async function fileAt(path: string): Promise<{ path: string; isDir: boolean } | null> {
  try {
    const info = await stat(path);
    return { path, isDir: info.isDirectory() };
  } catch {
    return null;
  }
}

/**
 * False when serveStaticAsset would surely answer null: not GET/HEAD, or a path that does not start
 * with a prefix. Synchronous and without URL parsing (request.url is already a serialised URL, so its
 * path starts at the first "/" after the scheme's "//"), so an API request pays a few string
 * comparisons and no promise before it reaches the app.
 */
export function mayBeStaticAsset(request: Request): boolean {
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") return false;
  const url = request.url;
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return path !== -1 && PREFIXES.some((p) => url.startsWith(p, path));
}

/** A response for a static file, or null when the request is the app's. */
export async function serveStaticAsset(request: Request, root = PUBLIC_DIR): Promise<Response | null> {
  if (request.method !== "GET" && request.method !== "HEAD") return null;
  const url = new URL(request.url);
  const under = (path: string) => PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
  if (!under(url.pathname)) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  // No NUL or backslash tricks, and the decoded path (an encoded "../" included) must still be
  // under a prefix once normalised, so nothing else in public/, let alone outside it, is reachable.
  if (pathname.includes("\0") || pathname.includes("\\")) return null;
  if (!under(posix.normalize(pathname))) return null;
  const target = normalize(join(root, pathname));
  if (!target.startsWith(root + sep)) return null;
  const found = await fileAt(target);
  if (!found) return null;
  let file = found.path;
  if (found.isDir) {
    if (!pathname.endsWith("/")) {
      return new Response(null, { status: 307, headers: { Location: `${url.pathname}/${url.search}` } });
    }
    const index = await fileAt(join(found.path, "index.html"));
    if (!index || index.isDir) return null;
    file = index.path;
  }
  const body = await readFile(file);
  const headers = {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Content-Length": String(body.byteLength),
    // As the platform does for assets: revalidate, so a new deploy is seen on the next load.
    "Cache-Control": "public, max-age=0, must-revalidate",
  };
  return new Response(request.method === "HEAD" ? null : body, { status: 200, headers });
}
