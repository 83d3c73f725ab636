/**
 * The printed account of the story: numbered steps and short lines saying
 * what was mapped where, which translation happened, which fault, which
 * errno. Browser-safe (no Node imports): the web view runs the same story
 * to build its default log.
 */
import { errnoName, isErrno } from "@iommu-sim/uapi";

/** Printed lines are wrapped at "; " to this many columns (a longer single clause stays whole). */
export const WIDTH = 120;
/** What starts a printed continuation line (it stands for the "; " it replaced). */
export const CONTINUATION = "\n     ";

/**
 * `line` wrapped for a terminal: its "; "-separated clauses packed into
 * lines of at most `WIDTH` columns, each continuation starting with
 * `CONTINUATION` instead of the "; ".
 */
export function wrap(line: string): string {
  const clauses = line.split("; ");
  let out = clauses[0]!;
  let col = out.length;
  for (const c of clauses.slice(1)) {
    if (col + 2 + c.length <= WIDTH) {
      out += `; ${c}`;
      col += 2 + c.length;
    } else {
      out += `${CONTINUATION}${c}`;
      col = CONTINUATION.length - 1 + c.length;
    }
  }
  return out;
}

/** Collects the account's lines and hands each to `out` (e.g. console.log) as it is said, wrapped. */
export class Account {
  /** Every line said so far, in order (step headings included), unwrapped. */
  readonly lines: string[] = [];

  /** @param out called with each line as it is said, wrapped (`wrap`; default: nothing). */
  constructor(private readonly out: (line: string) => void = () => {}) {}

  /** A step heading: `"\n1. A VMM assigns the NIC …"` (a blank line before it). */
  step(n: number, title: string): void {
    this.say("");
    this.say(`${n}. ${title}`);
  }

  /** One line of the account, indented under the current step. */
  say(line: string): void {
    const text = line === "" ? "" : `   ${line}`;
    this.lines.push(text);
    this.out(wrap(text));
  }
}

/** `0x…` of a bigint or a non-negative integer (addresses as Linux prints them). */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** A byte count with a binary unit when it is a whole number of them: 0x4000_0000 → "1 GiB". */
export function size(bytes: bigint | number): string {
  let v = BigInt(bytes);
  for (const unit of ["bytes", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024n || v % 1024n !== 0n || unit === "TiB") return `${v} ${unit}`;
    v /= 1024n;
  }
  return `${v} TiB`;
}

/** An ioctl's return as people read it: `0`, `1`, or the errno name of −errno ("ENODEV"). */
export function rcText(rc: number): string {
  return rc >= 0 ? `${rc}` : (errnoName(-rc) ?? `errno ${-rc}`);
}

/** An `Errno`'s name and reason, or "ok" for anything else. */
export function outcome(r: unknown): string {
  return isErrno(r) ? `${r.name} (${r.reason ?? "no reason given"})` : "ok";
}
