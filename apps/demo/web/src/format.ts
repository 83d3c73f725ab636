/**
 * Short, human-readable renderings of record data and state values for the
 * viewer. u64 quantities (bigint) are shown as 0x hex, as Linux prints
 * addresses; byte strings by length.
 */

/** `0x…` of a bigint or a non-negative integer. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** One scalar or container as a short token. */
export function shortValue(v: unknown): string {
  if (typeof v === "bigint") return hex(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (Array.isArray(v)) return `[${v.length}]`;
  if (v !== null && typeof v === "object") return "{…}";
  return String(v);
}

/**
 * A record's data as `key=value` pairs, cut to `max` characters with "…".
 * Example: `{ ctx: 1, value: 1n }` → `ctx=1 value=0x1`.
 */
export function shortData(data: unknown, max = 96): string {
  const text =
    data !== null && typeof data === "object" && !Array.isArray(data) && !(data instanceof Uint8Array)
      ? Object.entries(data)
          .map(([k, v]) => `${k}=${shortValue(v)}`)
          .join(" ")
      : shortValue(data);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Ascending integers as ranges: `[1, 2, 3, 7]` → `"1-3, 7"`. Input must be
 * ascending (as a bitmap's ids are).
 */
export function ranges(ids: Iterable<number>): string {
  const parts: string[] = [];
  let start: number | undefined;
  let end = 0;
  const flush = () => {
    if (start !== undefined) parts.push(start === end ? `${start}` : `${start}-${end}`);
  };
  for (const id of ids) {
    if (start !== undefined && id === end + 1) {
      end = id;
      continue;
    }
    flush();
    start = id;
    end = id;
  }
  flush();
  return parts.join(", ");
}

/** A byte count with a binary unit: 4096 → "4 KiB". */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && v % 1024 === 0 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}
