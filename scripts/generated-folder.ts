import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Replaces `dir` with exactly `files` (relative path → text): written afresh, so a file left from an
 * older package version or list can never be bundled stale. Returns how many files were written.
 */
export async function writeFolderAfresh(dir: string, files: ReadonlyMap<string, string>): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  for (const [path, text] of files) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  return files.size;
}
