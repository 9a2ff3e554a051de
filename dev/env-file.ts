// dotenv-style files: reading the developer's `.dev.vars`, and writing the generated env file that
// `wrangler dev --env-file` loads (so secrets never appear on a command line or in `ps`).

/** Parses KEY=value lines: `#` comments, optional `export `, 'single' (literal) and "double" quotes
 *  (\n, \r, \t, \", \\ escapes; may span lines), unquoted values trimmed with trailing ` # comment` cut. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lineEnd = text.indexOf("\n", i) === -1 ? n : text.indexOf("\n", i);
    const line = text.slice(i, lineEnd);
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*/.exec(line);
    if (!m || line.trimStart().startsWith("#")) {
      i = lineEnd + 1;
      continue;
    }
    const key = m[1] as string;
    let j = i + m[0].length;
    const quote = text[j];
    if (quote === '"' || quote === "'") {
      let value = "";
      j++;
      while (j < n && text[j] !== quote) {
        if (quote === '"' && text[j] === "\\" && j + 1 < n) {
          const next = text[j + 1] as string;
          value += ({ n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" } as Record<string, string>)[next] ?? `\\${next}`;
          j += 2;
        } else {
          value += text[j];
          j++;
        }
      }
      out[key] = value;
      const end = text.indexOf("\n", j);
      i = end === -1 ? n : end + 1;
    } else {
      out[key] = line
        .slice(m[0].length)
        .replace(/\s+#.*$/, "")
        .trim();
      i = lineEnd + 1;
    }
  }
  return out;
}

/**
 * Formats values for wrangler's loader (dotenv + dotenv-expand), checked against wrangler 4.156:
 * single quotes keep backslashes and quotes literally, but `$NAME` is still expanded, so `$` is written
 * as `\$`. Values containing a single quote or a newline use double quotes (dotenv turns `\n` into a
 * newline there). A value holding both `'` and `"` cannot be expressed and is refused.
 */
export function formatEnvFile(vars: Record<string, string>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`invalid variable name ${JSON.stringify(key)}`);
    const escapedDollar = value.replace(/\$/g, "\\$");
    if (!value.includes("'") && !value.includes("\n") && !value.includes("\r")) {
      lines.push(`${key}='${escapedDollar}'`);
    } else if (!value.includes('"')) {
      lines.push(`${key}="${escapedDollar.replace(/\r/g, "").replace(/\n/g, "\\n")}"`);
    } else {
      throw new Error(
        `${key}: a value containing both ' and " (or " and a newline) cannot be passed to wrangler through an env file`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
