/**
 * Table memory: the unit's frame allocator and the writes the Linux driver
 * makes to program the scalable-mode root → context → PASID directory →
 * PASID table chain for a device.
 *
 * Source: Linux drivers/iommu/intel/iommu.c `iommu_context_addr()` (a
 * scalable-mode root entry's lower half covers devfn 0–127, the upper half
 * 128–255; context entries are 256-bit), pasid.c
 * `intel_pasid_alloc_table()` / `intel_pasid_setup_sm_context()` /
 * `intel_pasid_get_entry()`; VT-d spec rev 4.1 §9.2, §9.4–§9.6.
 */
import {
  CONTEXT_ENTRY_SIZE,
  type ContextEntry,
  decodeContextEntry,
  decodeRootEntry,
  encodeContextEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  PASID_DIR_ENTRY_SIZE,
  PASID_ENTRY_SIZE,
  PASID_PDE_SHIFT,
  type PasidEntry,
  ROOT_ENTRY_SIZE,
} from "./entries";
import { ECAP, regGet } from "./regs";
import type { VtdUnit } from "./state";

/** Frames still allocatable in the unit's table memory. */
export function framesAvailable(unit: VtdUnit): number {
  const end = unit.config.tableBase / 4096 + unit.config.tableFrames;
  return end - unit.nextFrame + unit.freeFrames.length;
}

/**
 * Allocate `n` contiguous zeroed frames (a single frame is taken from the
 * free list first). The caller has checked `framesAvailable`.
 * @returns the unit and the PA of the first frame.
 */
export function allocFrames(unit: VtdUnit, n: number): { unit: VtdUnit; pa: number } {
  if (n === 1 && unit.freeFrames.length > 0) {
    const pfn = unit.freeFrames[unit.freeFrames.length - 1]!;
    return {
      unit: { ...unit, freeFrames: unit.freeFrames.slice(0, -1), tables: unit.tables.drop(pfn) },
      pa: pfn * 4096,
    };
  }
  return { unit: { ...unit, nextFrame: unit.nextFrame + n }, pa: unit.nextFrame * 4096 };
}

/** Write 64-bit words from `pa` into table memory. */
export function writeWords(unit: VtdUnit, pa: number, words: readonly bigint[]): VtdUnit {
  let tables = unit.tables;
  for (let i = 0; i < words.length; i++) tables = tables.writeU64(pa + 8 * i, words[i]!);
  return { ...unit, tables };
}

/** Read a 64-bit word of table memory. */
export function tableWord(unit: VtdUnit, pa: number): bigint {
  return unit.tables.readU64(pa);
}

/** PDTS for the unit's PASID size: a directory of 2^(PSS+1-6) entries = 2^(PDTS+7). Linux `context_get_sm_pds()`. */
export function pdtsOf(unit: VtdUnit): number {
  const pasidBits = regGet(unit.config.ecap, ECAP.PSS) + 1;
  return Math.max(0, pasidBits - PASID_PDE_SHIFT - 7);
}

/** Frames of a PASID directory of 2^(PDTS+7) 8-byte entries. */
export function pasidDirFrames(pdts: number): number {
  return Math.max(1, (2 ** (pdts + 7) * PASID_DIR_ENTRY_SIZE) / 4096);
}

/** PA of the root-entry half (lo or hi word) that covers `rid`. */
function rootHalfPa(unit: VtdUnit, rid: number): number {
  return unit.rootTable + (rid >> 8) * ROOT_ENTRY_SIZE + ((rid & 0xff) >= 0x80 ? 8 : 0);
}

/** The context entry of `rid` as programmed in table memory, or undefined if its context table is absent. */
export function contextEntryPa(unit: VtdUnit, rid: number): number | undefined {
  const word = tableWord(unit, rootHalfPa(unit, rid));
  if ((word & 1n) === 0n) return undefined;
  return Number(word & ~0xfffn) + (rid & 0x7f) * CONTEXT_ENTRY_SIZE;
}

/** The programmed context entry of `rid` (present = false when none). */
export function readContextEntry(unit: VtdUnit, rid: number): ContextEntry | undefined {
  const pa = contextEntryPa(unit, rid);
  if (pa === undefined) return undefined;
  return decodeContextEntry(tableWord(unit, pa), tableWord(unit, pa + 8));
}

/** Frames `programContext` will allocate for `rid` (context table, PASID directory). */
export function contextFramesNeeded(unit: VtdUnit, rid: number): number {
  const pa = contextEntryPa(unit, rid);
  if (pa === undefined) return 1 + pasidDirFrames(pdtsOf(unit));
  return readContextEntry(unit, rid)?.present === true ? 0 : pasidDirFrames(pdtsOf(unit));
}

/**
 * Make `rid`'s context entry present (allocating its context table and
 * PASID directory if needed), with DTE = `ats`, PRE = `pri`, PASIDE when the
 * unit supports PASID, RID_PASID = 0 — Linux `intel_pasid_setup_sm_context()`.
 */
export function programContext(unit: VtdUnit, rid: number, ats: boolean, pri: boolean): VtdUnit {
  if (contextEntryPa(unit, rid) === undefined) {
    const a = allocFrames(unit, 1);
    unit = a.unit;
    const half = rootHalfPa(unit, rid);
    const rootPa = unit.rootTable + (rid >> 8) * ROOT_ENTRY_SIZE;
    const cur = decodeRootEntry(tableWord(unit, rootPa), tableWord(unit, rootPa + 8));
    const upper = half !== rootPa;
    const next = encodeRootEntry({
      lowerPresent: upper ? cur.lowerPresent : true,
      lowerCtp: upper ? cur.lowerCtp : a.pa,
      upperPresent: upper ? true : cur.upperPresent,
      upperCtp: upper ? a.pa : cur.upperCtp,
    });
    unit = writeWords(unit, rootPa, next);
  }
  const ctxPa = contextEntryPa(unit, rid)!;
  const cur = readContextEntry(unit, rid)!;
  let dir = cur.pasidDirPtr;
  const pdts = pdtsOf(unit);
  if (!cur.present) {
    const a = allocFrames(unit, pasidDirFrames(pdts));
    unit = a.unit;
    dir = a.pa;
  }
  const entry: ContextEntry = {
    present: true,
    fpd: false,
    dte: ats,
    pasidEnable: regGet(unit.config.ecap, ECAP.PASID) === 1,
    pre: pri,
    pdts,
    pasidDirPtr: dir,
    ridPasid: 0,
  };
  return writeWords(unit, ctxPa, encodeContextEntry(entry));
}

/** Frames `programPasidEntry` will allocate (a PASID table when its directory entry is absent). */
export function pasidFramesNeeded(unit: VtdUnit, dir: number, pasid: number): number {
  return (tableWord(unit, dir + (pasid >> PASID_PDE_SHIFT) * 8) & 1n) === 0n ? 1 : 0;
}

/**
 * Write the PASID-table entry of `pasid` under directory `dir`, allocating the
 * PASID table when its directory entry is absent (Linux `intel_pasid_get_entry()`).
 */
export function programPasidEntry(unit: VtdUnit, dir: number, pasid: number, entry: PasidEntry): VtdUnit {
  const dePa = dir + (pasid >> PASID_PDE_SHIFT) * PASID_DIR_ENTRY_SIZE;
  let de = tableWord(unit, dePa);
  if ((de & 1n) === 0n) {
    const a = allocFrames(unit, 1);
    unit = writeWords(a.unit, dePa, [encodePasidDirEntry(a.pa)]);
    de = encodePasidDirEntry(a.pa);
  }
  const pa = Number(de & ~0xfffn) + (pasid & ((1 << PASID_PDE_SHIFT) - 1)) * PASID_ENTRY_SIZE;
  return writeWords(unit, pa, encodePasidEntry(entry));
}
