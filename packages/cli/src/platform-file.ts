/**
 * `--platform FILE`: read and validate a platform description (JSON, see
 * @iommu-sim/iommufd platform.ts), reporting `FILE: field: reason` or
 * `FILE:LINE: not JSON (…)`.
 */
import { readFileSync } from "node:fs";
import { DEFAULT_PLATFORM, type Platform, parsePlatform } from "@iommu-sim/iommufd";
import { UsageError } from "./errors";

/** The 1-based line of character offset `pos` in `text`. */
function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Where and why JSON.parse refused `text`, from V8's message: "… at
 * position N", "Unexpected end of JSON input" (the last line), or
 * "Unexpected token 'x', …"snippet"… is not valid JSON" (the snippet is
 * found in the text). The reason is kept to one line.
 */
export function jsonSyntaxError(text: string, message: string): { line?: number; reason: string } {
  const pos = /^(.*?) in JSON at position (\d+)/.exec(message);
  if (pos) return { line: lineOf(text, Number(pos[2])), reason: pos[1]! };
  if (message.startsWith("Unexpected end of JSON input")) {
    return { line: lineOf(text, text.length), reason: "unexpected end of input" };
  }
  const tok = /^Unexpected token '(.+?)', (?:\.\.\.)?"([\s\S]*)"(?:\.\.\.)? is not valid JSON$/.exec(message);
  if (tok) {
    const at = text.indexOf(tok[2]!);
    const reason = `unexpected '${tok[1]}'`;
    return at < 0 ? { reason } : { line: lineOf(text, at + Math.max(0, tok[2]!.indexOf(tok[1]!))), reason };
  }
  return { reason: message.replace(/\s*\n\s*/g, " ") };
}

/**
 * The platform in `file`, or DEFAULT_PLATFORM when `file` is undefined.
 * @throws UsageError naming the file (and the line or field) when it cannot be read, is not JSON or is invalid.
 */
export function loadPlatform(file: string | undefined): Platform {
  if (file === undefined) return DEFAULT_PLATFORM;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(
      `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const { line, reason } = jsonSyntaxError(text, (e as Error).message);
    throw new UsageError(`${line === undefined ? file : `${file}:${line}`}: not JSON (${reason})`);
  }
  const p = parsePlatform(json);
  if ("reason" in p) throw new UsageError(`${file}: ${p.field}: ${p.reason}`);
  return p;
}
