/**
 * IO page tables as the hardware walks them, one table at a time, for the
 * VT-d and SMMUv3 panels: each present entry of a table frame decoded —
 * the input range it covers, its raw 64-bit value, whether it is a leaf,
 * where it points (the next table or the output page) and its flags — and
 * for a table pointer the next level, computed only when asked for (the
 * view expands a tree level by level).
 *
 * Formats, 4 KiB granule, 9 bits per level:
 * - VT-d second stage (VT-d 4.1 §9.8): R bit 0, W 1, X 2, PS 7 (2 MiB /
 *   1 GiB leaves), A 8, D 9; not present when R = W = 0; address 51:12.
 * - VT-d first stage, the x86-64 format (§9.7): P 0, R/W 1, U/S 2, A 5,
 *   D 6, PS 7, XD 63.
 * - VMSAv8-64 stage 1 / stage 2 (Arm ARM D8.3): valid bit 0; bit 1 table
 *   (levels 0–2) or page (level 3), else a block; output address 47:12;
 *   stage 1 AP[2:1] bits 7:6, AF 10, nG 11, UXN 54, PXN 53; stage 2
 *   S2AP bits 7:6 (read, write), AF 10, XN 54.
 * Addresses are JS numbers (below 2^53); IOVAs bigint.
 */

/** Reads the 64-bit little-endian word at a physical address (bytes). */
export type PhysRead = (pa: number) => bigint;

/** An entry format. */
export type PtFormat = "vtd-sl" | "vtd-fl" | "arm-s1" | "arm-s2";

/** One present entry of a table. */
export interface PtEntry {
  /** Index in its table. */
  readonly index: number;
  /** First input address (IOVA / IPA / VA) the entry covers. */
  readonly iova: bigint;
  /** Bytes it covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB… */
  readonly span: bigint;
  /** The raw entry. */
  readonly raw: bigint;
  /** Maps a page or block (else points to the next table). */
  readonly leaf: boolean;
  /** The output page's address (leaf) or the next table's address (as written in the entry: a GPA/IPA when nested). */
  readonly addr: number;
  /** Flag names set in the entry, e.g. "R W", "P RW US A D", "AF AP=RW". */
  readonly flags: string;
}

/** One table (frame) of a tree. */
export interface PtTable {
  readonly format: PtFormat;
  /** Address of the table as the entry above wrote it (the root: the table pointer). */
  readonly addr: number;
  /** Where it was read: `addr` itself, or its translation through a second stage; undefined when that failed. */
  readonly pa: number | undefined;
  /** log2 of the span of one entry: 12 for the last level, 21, 30, 39, 48. */
  readonly shift: number;
  /** First input address the table covers. */
  readonly base: bigint;
  /** Present entries, ascending (at most `limit`). */
  readonly entries: readonly PtEntry[];
  /** Present entries not listed (beyond `limit`). */
  readonly more: number;
}

/** How to read a tree: where table addresses lead, and how much to list per table. */
export interface PtContext {
  readonly read: PhysRead;
  /** Translate a table address written in an entry to the PA to read (nested first stages: GPA → HPA); default identity. */
  readonly tableAddress?: (addr: number) => number | undefined;
  /** Entries listed per table (default 64). */
  readonly limit?: number;
}

const ADDR_MASK = 0x000f_ffff_ffff_f000n; // bits 51:12
const ARM_ADDR_MASK = 0x0000_ffff_ffff_f000n; // bits 47:12

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

function names(v: bigint, bits: readonly [number, string][]): string {
  return bits
    .filter(([n]) => bit(v, n))
    .map(([, s]) => s)
    .join(" ");
}

/** Whether `raw` is present in `format`. */
function present(format: PtFormat, raw: bigint): boolean {
  if (format === "vtd-sl") return (raw & 3n) !== 0n;
  return bit(raw, 0);
}

/** Whether a present `raw` at `shift` maps a page/block. */
function isLeaf(format: PtFormat, raw: bigint, shift: number): boolean {
  if (shift === 12) return true;
  if (format === "vtd-sl" || format === "vtd-fl") return bit(raw, 7);
  return !bit(raw, 1);
}

function flagsOf(format: PtFormat, raw: bigint, leaf: boolean): string {
  switch (format) {
    case "vtd-sl":
      return names(raw, [
        [0, "R"],
        [1, "W"],
        [2, "X"],
        [7, "PS"],
        [8, "A"],
        [9, "D"],
      ]);
    case "vtd-fl":
      return names(raw, [
        [0, "P"],
        [1, "RW"],
        [2, "US"],
        [5, "A"],
        [6, "D"],
        [7, "PS"],
        [63, "XD"],
      ]);
    case "arm-s1": {
      if (!leaf) return "table";
      const ap = Number((raw >> 6n) & 3n);
      const apText = ["RW EL1", "RW EL0", "RO EL1", "RO EL0"][ap];
      return [
        `AP=${apText}`,
        names(raw, [
          [10, "AF"],
          [11, "nG"],
          [53, "PXN"],
          [54, "UXN"],
        ]),
      ]
        .filter((s) => s)
        .join(" ");
    }
    case "arm-s2": {
      if (!leaf) return "table";
      const s2ap = Number((raw >> 6n) & 3n);
      const apText = ["none", "R", "W", "RW"][s2ap];
      return [
        `S2AP=${apText}`,
        names(raw, [
          [10, "AF"],
          [54, "XN"],
        ]),
      ]
        .filter((s) => s)
        .join(" ");
    }
  }
}

/**
 * The table at `addr` whose entries each span 2^`shift` bytes from input
 * address `base`, `count` entries long (512, or more for an SMMU stage 2
 * with concatenated start tables).
 */
export function readTable(
  ctx: PtContext,
  format: PtFormat,
  addr: number,
  shift: number,
  base: bigint,
  count = 512,
): PtTable {
  const pa = ctx.tableAddress === undefined ? addr : ctx.tableAddress(addr);
  const limit = ctx.limit ?? 64;
  const entries: PtEntry[] = [];
  let more = 0;
  if (pa !== undefined) {
    const span = 1n << BigInt(shift);
    const mask = format.startsWith("arm") ? ARM_ADDR_MASK : ADDR_MASK;
    for (let index = 0; index < count; index++) {
      const raw = ctx.read(pa + index * 8);
      if (!present(format, raw)) continue;
      if (entries.length >= limit) {
        more++;
        continue;
      }
      const leaf = isLeaf(format, raw, shift);
      entries.push({
        index,
        iova: base + BigInt(index) * span,
        span,
        raw,
        leaf,
        addr: Number(raw & mask),
        flags: flagsOf(format, raw, leaf),
      });
    }
  }
  return { format, addr, pa, shift, base, entries, more };
}

/** The table an entry of `table` points to (undefined for a leaf). */
export function childTable(ctx: PtContext, table: PtTable, entry: PtEntry): PtTable | undefined {
  if (entry.leaf) return undefined;
  return readTable(ctx, table.format, entry.addr, table.shift - 9, entry.iova);
}

/** log2 of the span of a top-level entry of a `levels`-level table with 4 KiB pages. */
export function topShift(levels: number): number {
  return 12 + 9 * (levels - 1);
}

/**
 * The output address of input `iova` in the tree at `root` (levels from
 * `shift`), or undefined when not mapped: the software walk the view uses
 * to read a nested first stage's tables (their pointers are guest-physical
 * addresses, translated through the parent's second stage). `topCount`:
 * entries of the top table (more than 512 when concatenated).
 */
export function lookup(
  read: PhysRead,
  format: PtFormat,
  root: number,
  shift: number,
  iova: bigint,
  topCount = 512,
): number | undefined {
  let table = root;
  for (let s = shift; s >= 12; s -= 9) {
    const index = Number((iova >> BigInt(s)) & BigInt((s === shift ? topCount : 512) - 1));
    const raw = read(table + index * 8);
    if (!present(format, raw)) return undefined;
    const mask = format.startsWith("arm") ? ARM_ADDR_MASK : ADDR_MASK;
    const addr = Number(raw & mask);
    if (isLeaf(format, raw, s)) return addr + Number(iova & ((1n << BigInt(s)) - 1n));
    table = addr;
  }
  return undefined;
}

/** A human-readable span: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
export function spanText(span: bigint): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = span;
  let i = 0;
  while (v >= 1024n && v % 1024n === 0n && i < units.length - 1) {
    v /= 1024n;
    i++;
  }
  return `${v} ${units[i]}`;
}
