/**
 * The stream table and CD tables in memory: where the hardware finds an STE
 * or a CD (linear and 2-level formats), and the writes the driver performs
 * to put them there, including allocating level-2 tables from the
 * instance's table memory.
 *
 * Sources: Arm IHI 0070 §3.3.2 (2-level stream table, L1STD Span/L2Ptr),
 * §5.1 (stream table formats), §5.4.1 (CD table formats, L1CD V/L2Ptr);
 * Linux arm-smmu-v3.c arm_smmu_init_strtab_2lvl/_linear,
 * arm_smmu_init_l2_strtab, arm_smmu_alloc_cd_tables, arm_smmu_get_cd_ptr.
 */
import { genmask } from "./bits";
import { CD_SIZE } from "./cd";
import { PhysReader } from "./phys";
import type { CdTable, SmmuInstance, StreamTableRegs } from "./state";
import { decodeSte, STE_CFG, STE_SIZE } from "./ste";

/** Linux STRTAB_SPLIT: StreamID bits per level-2 stream table (256 STEs, 16 KiB). */
export const STRTAB_SPLIT = 8;
/** Linux STRTAB_MAX_L1_ENTRIES. */
export const STRTAB_MAX_L1_ENTRIES = 1 << 17;
/** Linux CTXDESC_L2_ENTRIES: CDs per level-2 CD table (64 KiB leaves, S1Fmt = 2). */
export const CTXDESC_L2_ENTRIES = 1024;

const FRAME = 4096;

/**
 * Carve `bytes` (rounded up to whole 4 KiB frames, `align`-aligned) out of
 * table memory: one frame or less from the free list when it has one,
 * else from the bump allocator's tail. Pure. @returns the PA and the
 * instance after, or undefined when the region is exhausted (the caller's
 * ENOMEM).
 */
export function allocate(
  inst: SmmuInstance,
  bytes: number,
  align = FRAME,
): { pa: number; inst: SmmuInstance } | undefined {
  const free = inst.freeFrames;
  if (bytes <= FRAME && align <= FRAME && free.length > 0)
    return { pa: free[free.length - 1]! * FRAME, inst: { ...inst, freeFrames: free.slice(0, -1) } };
  const a = Math.max(align, FRAME);
  const pa = Math.ceil(inst.nextFree / a) * a;
  const end = pa + Math.ceil(bytes / FRAME) * FRAME;
  if (end > inst.tableEnd) return undefined;
  return { pa, inst: { ...inst, nextFree: end } };
}

/**
 * The stream table layout Linux chooses (arm_smmu_init_strtab): 2-level
 * with SPLIT 8 when IDR0.ST_LEVEL allows, else linear over 2^SIDSIZE STEs.
 * @returns the register values and the bytes its (level-1 or only) table needs.
 */
export function streamTableLayout(inst: SmmuInstance): {
  regs: Omit<StreamTableRegs, "base">;
  bytes: number;
} {
  const sidBits = inst.features.sidBits;
  if (inst.features.st2l && sidBits > STRTAB_SPLIT) {
    const l1 = Math.min(2 ** (sidBits - STRTAB_SPLIT), STRTAB_MAX_L1_ENTRIES);
    return { regs: { fmt: 1, log2size: sidBits, split: STRTAB_SPLIT }, bytes: l1 * 8 };
  }
  return { regs: { fmt: 0, log2size: sidBits, split: 0 }, bytes: 2 ** sidBits * STE_SIZE };
}

/** Why an STE could not be located: C_BAD_STREAMID (out of range) or C_BAD_STE (L1 descriptor invalid). */
export type SteLookupError = "bad_streamid" | "bad_ste";

/** The PA of StreamID `sid`'s STE as the SMMU finds it (IHI 0070 §3.3), or why not. */
export function steAddress(inst: SmmuInstance, mem: PhysReader, sid: number): number | SteLookupError {
  const st = inst.strtab;
  if (!(sid >= 0 && sid < 2 ** Math.min(st.log2size, inst.features.sidBits))) return "bad_streamid";
  if (st.fmt === 0) return st.base + sid * STE_SIZE;
  mem.read64(st.base + Math.floor(sid / 2 ** st.split) * 8);
  const span = mem.lo & 0x1f;
  const l2index = sid % 2 ** st.split;
  if (span === 0 || span > st.split + 1 || l2index >= 2 ** (span - 1)) return "bad_ste";
  const l2ptr = (mem.hi & 0xfffff) * 2 ** 32 + ((mem.lo & 0xffffffc0) >>> 0);
  return l2ptr + l2index * STE_SIZE;
}

/** Level-1 stream-table descriptor address for `sid` (2-level format). */
function l1StdAddress(st: StreamTableRegs, sid: number): number {
  return st.base + Math.floor(sid / 2 ** st.split) * 8;
}

/** Whether writing `sid`'s STE first needs a level-2 table (2-level format, L1STD.Span = 0). */
export function steNeedsL2(inst: SmmuInstance, sid: number): boolean {
  const st = inst.strtab;
  if (st.fmt === 0) return false;
  return (inst.mem.readU32(l1StdAddress(st, sid)) & 0x1f) === 0;
}

/** Bytes of one level-2 stream table (2^SPLIT STEs). */
export function l2StreamTableBytes(inst: SmmuInstance): number {
  return 2 ** inst.strtab.split * STE_SIZE;
}

/**
 * Driver write of `sid`'s STE (arm_smmu_write_ste, without the hitless
 * update sequence: the 64 bytes change at once). When the level-2 table is
 * missing it is placed at `l2` (allocated by the caller) and the L1STD
 * written with Span = SPLIT + 1 (arm_smmu_write_strtab_l1_desc).
 */
export function writeSte(
  inst: SmmuInstance,
  sid: number,
  words: readonly bigint[],
  l2?: number,
): SmmuInstance {
  let mem = inst.mem;
  let pa: number;
  const st = inst.strtab;
  if (st.fmt === 0) pa = st.base + sid * STE_SIZE;
  else {
    const l1 = l1StdAddress(st, sid);
    if (l2 !== undefined) mem = mem.writeU64(l1, (BigInt(l2) & genmask(51, 6)) | BigInt(st.split + 1));
    const desc = mem.readU64(l1);
    pa = Number(desc & genmask(51, 6)) + (sid % 2 ** st.split) * STE_SIZE;
  }
  for (let i = 0; i < 8; i++) mem = mem.writeU64(pa + i * 8, words[i] ?? 0n);
  return { ...inst, mem };
}

/**
 * The CD table layout Linux allocates for a master with `ssidBits` of PASID
 * (arm_smmu_alloc_cd_tables): linear when the SMMU lacks CD2L or
 * 2^ssidBits ≤ 1024 CDs; else 2-level with 64 KiB leaves (S1Fmt = 2).
 * @returns S1Fmt, S1CDMax and the bytes of the linear / level-1 table.
 */
export function cdTableLayout(
  inst: SmmuInstance,
  ssidBits: number,
): { s1fmt: number; s1cdmax: number; bytes: number } {
  const max = 2 ** ssidBits;
  if (!inst.features.cd2l || max <= CTXDESC_L2_ENTRIES)
    return { s1fmt: 0, s1cdmax: ssidBits, bytes: max * CD_SIZE };
  return { s1fmt: 2, s1cdmax: ssidBits, bytes: Math.ceil(max / CTXDESC_L2_ENTRIES) * 8 };
}

/** CDs per level-2 table for S1Fmt 1 (4 KiB leaves: 64) and 2 (64 KiB leaves: 1024). */
export function cdsPerLeaf(s1fmt: number): number {
  return s1fmt === 1 ? 64 : CTXDESC_L2_ENTRIES;
}

/** Whether writing CD `ssid` of `table` first needs a level-2 CD table. */
export function cdNeedsL2(inst: SmmuInstance, table: CdTable, ssid: number): boolean {
  if (table.s1fmt === 0) return false;
  const l1 = table.base + Math.floor(ssid / cdsPerLeaf(table.s1fmt)) * 8;
  return (inst.mem.readU32(l1) & 1) === 0;
}

/** Driver write of CD `ssid` into a host-owned CD table (arm_smmu_write_cd_entry); a missing leaf goes at `l2`. */
export function writeCd(
  inst: SmmuInstance,
  table: CdTable,
  ssid: number,
  words: readonly bigint[],
  l2?: number,
): SmmuInstance {
  let mem = inst.mem;
  let pa: number;
  if (table.s1fmt === 0) pa = table.base + ssid * CD_SIZE;
  else {
    const per = cdsPerLeaf(table.s1fmt);
    const l1 = table.base + Math.floor(ssid / per) * 8;
    if (l2 !== undefined) mem = mem.writeU64(l1, (BigInt(l2) & genmask(51, 12)) | 1n);
    pa = Number(mem.readU64(l1) & genmask(51, 12)) + (ssid % per) * CD_SIZE;
  }
  for (let i = 0; i < 8; i++) mem = mem.writeU64(pa + i * 8, words[i] ?? 0n);
  return { ...inst, mem };
}

/**
 * Where the SMMU finds CD `ssid` of a CD table at `ctxPtr` (IHI 0070
 * §5.4.1). `fetch(addr)` reads a level-1 descriptor and may translate it
 * (nested: addresses are IPAs); it returns false when that access faulted.
 * @returns the CD's address (in the same address space as ctxPtr), "bad_substreamid"
 *   for an invalid L1CD, or "fault" when `fetch` failed.
 */
export function cdAddress(
  mem: PhysReader,
  ctxPtr: number,
  s1fmt: number,
  ssid: number,
  fetch: (addr: number) => boolean,
): number | "bad_substreamid" | "fault" {
  if (s1fmt === 0) return ctxPtr + ssid * CD_SIZE;
  const per = cdsPerLeaf(s1fmt);
  if (!fetch(ctxPtr + Math.floor(ssid / per) * 8)) return "fault";
  if ((mem.lo & 1) === 0) return "bad_substreamid";
  const l2 = (mem.hi & 0xfffff) * 2 ** 32 + ((mem.lo & 0xfffff000) >>> 0);
  return l2 + (ssid % per) * CD_SIZE;
}

/** The host-owned CD table `sid`'s STE points at, read from table memory (the driver's view). */
export function cdTableOfSte(
  i: SmmuInstance,
  sid: number,
): { base: number; s1fmt: number; s1cdmax: number } | undefined {
  const mem = new PhysReader(i.mem, i.tableBase, i.tableEnd, undefined);
  const pa = steAddress(i, mem, sid);
  if (typeof pa !== "number") return undefined;
  const ste = decodeSte(mem.readWords(pa, 8));
  if (!ste.v || ste.config !== STE_CFG.S1_TRANS) return undefined;
  if (ste.s1ContextPtr < i.tableBase || ste.s1ContextPtr >= i.tableEnd) return undefined;
  return { base: ste.s1ContextPtr, s1fmt: ste.s1fmt, s1cdmax: ste.s1cdmax };
}
