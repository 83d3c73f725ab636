/**
 * VMSAv8-64 translation-table walks as the SMMU performs them: stage 1 (from
 * a CD), stage 2 (from an STE), and nested — stage-1 descriptor fetches are
 * IPAs, each translated by stage 2 before it is read.
 *
 * Sources: Arm ARM (DDI 0487) D8.2 "Translation process" (start level,
 * index bits, concatenated stage-2 tables), D8.3 (descriptor formats), D8.4
 * (permissions); Arm IHI 0070 §3.4 (SMMU translation), §7.3 (which fault a
 * walk reports: F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION, with
 * CLASS and S2). QEMU hw/arm/smmu-common.c smmu_ptw_64_s1/s2 does the same.
 *
 * Hot path: numbers only (addresses < 2^53), descriptors read as two u32
 * halves, results written into caller-owned `WalkOut` objects (no
 * allocation per walk).
 */

import type { PhysReader } from "./phys";
import { HI_APTABLE_NO_EL0, HI_APTABLE_RDONLY, PERM_R_PRIV, PTE_AF, PTE_VALID, s1Perm, s2Perm } from "./pte";

/** Event IDs of walk faults (IHI 0070 §7.3; Linux EVT_ID_*). */
export const F_TRANSLATION = 0x10;
export const F_ADDR_SIZE = 0x11;
export const F_ACCESS = 0x12;
export const F_PERMISSION = 0x13;

/** Event record CLASS (IHI 0070 §7.3.12): what the faulting access was for. */
export const CLASS_CD = 0;
export const CLASS_TT = 1;
export const CLASS_IN = 2;

/** One translation regime: what a walk needs from a CD (stage 1) or an STE (stage 2). */
export interface TtConfig {
  readonly stage: 1 | 2;
  /** Table base: TTB0 (stage 1; an IPA when nested) or S2TTB (stage 2; a PA). */
  readonly ttb: number;
  /** Input address size in bits: 64 − T0SZ / S2T0SZ. */
  readonly iaBits: number;
  /** log2 of the granule: 12 (4 KiB), 14 (16 KiB) or 16 (64 KiB). */
  readonly granuleShift: number;
  /** Level of the first lookup, 0..3. */
  readonly startLevel: number;
  /** Effective output size in bits: min(IPS or S2PS, IDR5.OAS). */
  readonly oaBits: number;
  /** Access-flag faults suppressed (CD.AFFD / CD.HA, STE.S2AFFD). */
  readonly affd: boolean;
}

/** The result of a walk, written in place. On success `pa`, `log2size`, `perm`; on failure `fault` etc. */
export class WalkOut {
  /** Output address of the input address (PA, or IPA for stage 1 when nested). */
  pa = 0;
  /** log2 of the size of the leaf (page or block) that mapped it. */
  log2size = 0;
  /** Permissions of the leaf (PERM_* mask). */
  perm = 0;
  /** 0 on success, else F_TRANSLATION / F_ADDR_SIZE / F_ACCESS / F_PERMISSION. */
  fault = 0;
  /** Level at which the walk stopped. */
  level = 0;
  /** Whether the fault was in stage 2. */
  s2 = false;
  /** CLASS of the faulting access (CLASS_CD / CLASS_TT / CLASS_IN). */
  faultClass = CLASS_IN;
  /** For stage-2 faults: the IPA that faulted. */
  ipa = 0;
}

const POW2: number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);
const TWO32 = 2 ** 32;

/** Whether a block descriptor is allowed at `level` for this granule (ARM ARM D8.3.1, no FEAT_LPA2). */
export function blockAllowed(granuleShift: number, level: number): boolean {
  return granuleShift === 12 ? level === 1 || level === 2 : level === 2;
}

/** log2 of the region one descriptor at `level` maps. */
export function levelShift(granuleShift: number, level: number): number {
  return granuleShift + (3 - level) * (granuleShift - 3);
}

/** The stage-1 start level for an input size (ARM ARM D8.2.6): enough levels to resolve iaBits. */
export function s1StartLevel(granuleShift: number, iaBits: number): number {
  return 4 - Math.ceil((iaBits - granuleShift) / (granuleShift - 3));
}

function fail(out: WalkOut, fault: number, level: number): false {
  out.fault = fault;
  out.level = level;
  return false;
}

/**
 * Walk `cfg`'s tables for input address `ia`.
 * @param s2 when set (nested), each descriptor address is an IPA translated
 *   by this stage-2 regime first, using `s2out` as scratch; a stage-2 fault
 *   there is reported with `s2 = true`, CLASS_TT and `ipa`.
 * @returns true with `out.pa/log2size/perm`, or false with `out.fault`.
 */
export function walk(
  mem: PhysReader,
  cfg: TtConfig,
  ia: number,
  out: WalkOut,
  s2?: TtConfig,
  s2out?: WalkOut,
): boolean {
  out.fault = 0;
  out.s2 = cfg.stage === 2;
  out.faultClass = CLASS_IN;
  const g = cfg.granuleShift;
  const stride = g - 3;
  if (!(ia >= 0 && ia < POW2[cfg.iaBits]!)) return fail(out, F_TRANSLATION, cfg.startLevel);
  // The input address as two 32-bit halves, so index and offset arithmetic stays in int32.
  const iaLo = ia >>> 0;
  const iaHi = (ia - iaLo) / TWO32;
  let table = cfg.ttb;
  let noEl0 = false;
  let rdonly = false;
  for (let level = cfg.startLevel; level <= 3; level++) {
    const shift = g + (3 - level) * stride;
    const width = level === cfg.startLevel ? cfg.iaBits - shift : stride;
    const bits = shift >= 32 ? iaHi >>> (shift - 32) : (iaLo >>> shift) | (iaHi << (32 - shift));
    let descPa = table + (bits & ((1 << width) - 1)) * 8;
    if (s2 !== undefined && s2out !== undefined) {
      // Nested: the stage-1 table lives at an IPA; fetching it is a stage-2 read.
      // A table fetch is a read; stage 2 must grant it (S2AP read), else F_PERMISSION.
      if (!walk(mem, s2, descPa, s2out) || (s2out.perm & PERM_R_PRIV) === 0) {
        out.fault = s2out.fault === 0 ? F_PERMISSION : s2out.fault;
        out.level = s2out.level;
        out.s2 = true;
        out.faultClass = CLASS_TT;
        out.ipa = descPa;
        return false;
      }
      descPa = s2out.pa;
    }
    mem.read64(descPa);
    const lo = mem.lo;
    const hi = mem.hi;
    if ((lo & PTE_VALID) === 0) return fail(out, F_TRANSLATION, level);
    const tableOrPage = (lo & 2) !== 0;
    const addrHi = (hi & 0xffff) * TWO32;
    if (level < 3 && tableOrPage) {
      // Next-level table address: bits [47:g].
      const next = addrHi + ((lo & -(1 << g)) >>> 0);
      if (next >= POW2[cfg.oaBits]!) return fail(out, F_ADDR_SIZE, level);
      if (cfg.stage === 1) {
        if ((hi & HI_APTABLE_NO_EL0) !== 0) noEl0 = true;
        if ((hi & HI_APTABLE_RDONLY) !== 0) rdonly = true;
      }
      table = next;
      continue;
    }
    if (level === 3 ? !tableOrPage : !blockAllowed(g, level)) return fail(out, F_TRANSLATION, level);
    // Leaf output address: bits [47:shift] (shift ≤ 30 for every leaf level).
    let oa = addrHi + ((lo & -(1 << shift)) >>> 0);
    // 64 KiB granule: OA[51:48] sit in descriptor bits [15:12].
    if (g === 16) oa += ((lo >>> 12) & 0xf) * POW2[48]!;
    if (oa >= POW2[cfg.oaBits]!) return fail(out, F_ADDR_SIZE, level);
    if ((lo & PTE_AF) === 0 && !cfg.affd) return fail(out, F_ACCESS, level);
    out.pa = oa + ((iaLo & ((1 << shift) - 1)) >>> 0);
    out.log2size = shift;
    out.perm = cfg.stage === 1 ? s1Perm(lo, noEl0, rdonly) : s2Perm(lo);
    out.level = level;
    return true;
  }
  return fail(out, F_TRANSLATION, 3);
}
