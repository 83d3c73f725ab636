/**
 * Translating one DMA request page by page, through the caches, as a
 * scalable-mode unit does: context cache (else root → context entry),
 * PASID cache (else PASID directory → PASID-table entry), IOTLB (else the
 * page walk the PASID entry's PGTT selects), then the permission check.
 *
 * Cache hits are served from the cache without reading memory, so a table
 * changed without invalidation keeps translating the old way — as on
 * hardware. Misses are reported to an optional `FillSink`, which `decide`
 * turns into cache-fill events; pure callers pass none and change nothing.
 *
 * A successful first-stage walk reports the accessed/dirty bits it sets
 * (`FillSink.accessed`); an IOTLB entry remembers whether the leaf is dirty,
 * so the first write through a clean entry walks again to set D.
 *
 * Not modelled: negative caching (CAP.CM), paging-structure caches,
 * second-stage A/D (SSADE), interrupt remapping (any request to 0xFEEx_xxxx
 * faults with reason 0x87).
 *
 * Source: VT-d spec rev 4.1 §3.4–§3.9 (translation process), §6.2 (caches),
 * §9 (structures), Appendix A (fault reasons).
 */

import type { CacheMap } from "./cache-map";
import {
  type ContextEntry,
  contextEntryReservedSet,
  decodeContextEntry,
  decodePasidEntry,
  type PasidEntry,
  PGTT,
} from "./entries";
import { FR } from "./fault-reasons";
import { PERM, TLB_CLASS, tlbTag } from "./iotlb";
import { ENTRY, type Mem, readEntry, readWord } from "./memory";
import { unitFeatures, type VtdUnit } from "./state";
import { AD_UPDATES, flWalk, slWalk, WALK } from "./walk";

/** Access bits (see `ACCESS`). */
const ACCESS_BITS = { WRITE: 1, PRIV: 2, EXEC: 4 } as const;

// Hot-path aliases: module-local bindings, read once (a transpiled import is a getter call per use).
const read = readEntry;
const E = ENTRY;
const W = WALK;
const sl = slWalk;
const fl = flWalk;
const tagOf = tlbTag;
const featuresOfUnit = unitFeatures;
const P_READ = PERM.READ;
const P_WRITE = PERM.WRITE;
const P_EXEC = PERM.EXEC;
const P_USER = PERM.USER;
const P_SL_WRITE = PERM.SL_WRITE;
const P_DIRTY = PERM.DIRTY;
const AD = AD_UPDATES;
const C_FIRST = TLB_CLASS.FIRST_STAGE;
const C_NESTED = TLB_CLASS.NESTED;
const C_SECOND = TLB_CLASS.SECOND_STAGE;
const T_FL = PGTT.FL_ONLY;
const T_SL = PGTT.SL_ONLY;
const T_NESTED = PGTT.NESTED;
const T_PT = PGTT.PT;
const R_PASID_TOO_LARGE = FR.PASID_TOO_LARGE;
const R_US = FR.US_CLEAR;
const R_NO_WRITE = FR.NO_WRITE;
const R_NO_READ = FR.NO_READ;
const R_NO_EXEC = FR.NO_EXECUTE;
const R_SRE = FR.PASID_SRE_CLEAR;
const R_MSI = FR.INTERRUPT_ADDR;
const R_PASIDE = FR.CONTEXT_PASIDE_CLEAR;
const A_WRITE = ACCESS_BITS.WRITE;
const A_PRIV = ACCESS_BITS.PRIV;
const A_EXEC = ACCESS_BITS.EXEC;

/** Receives what a translation read from memory, to cache it. */
export interface FillSink {
  /** A context entry was read for `rid` (words q0, q1). */
  context(rid: number, q0: bigint, q1: bigint): void;
  /** A PASID-table entry was read (words val[0..2]). */
  pasid(rid: number, pasid: number, v0: bigint, v1: bigint, v2: bigint): void;
  /** A page walk completed: cache page `sizeIdx` containing `vpn` → first frame `pfn`. */
  iotlb(tag: number, vpn: number, sizeIdx: number, pfn: number, perm: number): void;
  /** A paging entry at `pa` gets its accessed/dirty bits set: new words `lo`, `hi` (first stage; second stage with SSADE). */
  accessed(pa: number, lo: number, hi: number): void;
}

/** Details of the last faulting `translatePage` call (for fault reporting; not updated on success). */
export const LAST = {
  /** Fault processing disabled by the context or PASID entry (FPD): do not record. */
  fpd: false,
  /** The context entry has PRE: recoverable faults become page requests. */
  pre: false,
  /** Whether the context stage completed (PRE/FPD are meaningful). */
  haveContext: false,
};

/** An access: bit 0 write, bit 1 supervisor (privileged), bit 2 execute. */
export const ACCESS = ACCESS_BITS;

/** The first and last 4 KiB pages of the interrupt address range 0xFEE0_0000–0xFEEF_FFFF. */
const MSI_FIRST = 0xfee00;
const MSI_LAST = 0xfeeff;

// One-entry memos of the last context- and PASID-cache hits, valid while the
// cache instance and its generation are unchanged (the hit path's fast lane).
let memoCtxCache: CacheMap<ContextEntry> | undefined;
let memoCtxGen = -1;
let memoRid = -1;
let memoCe: ContextEntry | undefined;
let memoPeCache: CacheMap<PasidEntry> | undefined;
let memoPeGen = -1;
let memoPeKey = -1;
let memoPe: PasidEntry | undefined;

function contextOf(unit: VtdUnit, mem: Mem, rid: number, sink: FillSink | undefined): ContextEntry | number {
  const cache = unit.contextCache;
  if (cache === memoCtxCache && rid === memoRid && cache.generation === memoCtxGen) return memoCe!;
  const cached = cache.get(rid);
  if (cached !== undefined) {
    memoCtxCache = cache;
    memoCtxGen = cache.generation;
    memoRid = rid;
    memoCe = cached;
    return cached;
  }
  const half = unit.rootTable + (rid >> 8) * 16 + ((rid & 0xff) >= 0x80 ? 8 : 0);
  read(mem, half);
  if ((E.lo & 1) === 0) return FR.ROOT_ENTRY_P;
  if ((E.lo & 0xffe) !== 0) return FR.ROOT_ENTRY_RSVD;
  const ctp = (E.hi & 0xfffff) * 4294967296 + (E.lo >>> 12) * 4096;
  const pa = ctp + (rid & 0x7f) * 32;
  const q0 = readWord(mem, pa);
  const q1 = readWord(mem, pa + 8);
  if ((q0 & 1n) === 0n) return FR.CONTEXT_ENTRY_P;
  if (contextEntryReservedSet(q0, q1, readWord(mem, pa + 16), readWord(mem, pa + 24)))
    return FR.CONTEXT_ENTRY_RSVD;
  sink?.context(rid, q0, q1);
  return decodeContextEntry(q0, q1);
}

function pgttSupported(unit: VtdUnit, pgtt: number): boolean {
  const fx = featuresOfUnit(unit.config);
  switch (pgtt) {
    case T_FL:
      return fx.flts;
    case T_SL:
      return fx.slts;
    case T_NESTED:
      return fx.nest;
    case T_PT:
      return fx.pt;
    default:
      return false;
  }
}

function pasidEntryOf(
  unit: VtdUnit,
  mem: Mem,
  ce: ContextEntry,
  rid: number,
  pasid: number,
  sink: FillSink | undefined,
): PasidEntry | number {
  const cache = unit.pasidCache;
  const key = rid * 0x100000 + pasid;
  if (cache === memoPeCache && key === memoPeKey && cache.generation === memoPeGen) return memoPe!;
  const cached = cache.get(key);
  if (cached !== undefined) {
    memoPeCache = cache;
    memoPeGen = cache.generation;
    memoPeKey = key;
    memoPe = cached;
    return cached;
  }
  read(mem, ce.pasidDirPtr + (pasid >> 6) * 8);
  if ((E.lo & 1) === 0) return FR.PASID_DIR_ENTRY_P;
  const table = (E.hi & 0xfffff) * 4294967296 + (E.lo >>> 12) * 4096;
  const pa = table + (pasid & 63) * 64;
  const v0 = readWord(mem, pa);
  if ((v0 & 1n) === 0n) return FR.PASID_ENTRY_P;
  const v1 = readWord(mem, pa + 8);
  const v2 = readWord(mem, pa + 16);
  const pe = decodePasidEntry(v0, v1, v2);
  if (!pgttSupported(unit, pe.pgtt)) return FR.PASID_ENTRY_INV;
  sink?.pasid(rid, pasid, v0, v1, v2);
  return pe;
}

function tlbClass(pgtt: number): number {
  return pgtt === T_FL ? C_FIRST : pgtt === T_NESTED ? C_NESTED : C_SECOND;
}

/** Check `access` against cached/walked permissions. @returns 0 or the fault reason. */
function checkAccess(perm: number, access: number, pe: PasidEntry): number {
  const priv = (access & A_PRIV) !== 0;
  if (!priv && (perm & P_USER) === 0) return R_US;
  if (access & A_WRITE) {
    // WPE = 0: supervisor writes ignore first-stage R/W (x86 CR0.WP = 0 semantics), not the second stage.
    const ok = (perm & P_WRITE) !== 0 || (priv && !pe.wpe && (perm & P_SL_WRITE) !== 0);
    if (!ok) return R_NO_WRITE;
  } else if ((perm & P_READ) === 0) return R_NO_READ;
  if (access & A_EXEC && (perm & P_EXEC) === 0) return R_NO_EXEC;
  return 0;
}

/**
 * Translate 4 KiB input page `vpn` of a request from `rid` (with `pasid`,
 * or -1 for a request-without-PASID) for `access` (`ACCESS` bits).
 * @returns the 4 KiB frame number (≥ 0), or minus the fault reason (then
 *   `LAST` holds FPD/PRE of the entries used). Allocation-free on IOTLB hits.
 */
export function translatePage(
  unit: VtdUnit,
  mem: Mem,
  rid: number,
  pasid: number,
  vpn: number,
  access: number,
  sink?: FillSink,
): number {
  if (vpn >= MSI_FIRST && vpn <= MSI_LAST) return fault(R_MSI, undefined, false);
  const ce = contextOf(unit, mem, rid, sink);
  if (typeof ce === "number") return fault(ce, undefined, false);
  if (pasid >= 0 && !ce.pasidEnable) return fault(R_PASIDE, ce, false);
  const p = pasid >= 0 ? pasid : ce.ridPasid;
  if (p >> 6 >= 1 << (ce.pdts + 7)) return fault(R_PASID_TOO_LARGE, ce, false);
  const pe = pasidEntryOf(unit, mem, ce, rid, p, sink);
  if (typeof pe === "number") return fault(pe, ce, false);
  if (access & A_PRIV && !pe.sre) return fault(R_SRE, ce, pe.fpd);
  const tag = tagOf(pe.did, p, tlbClass(pe.pgtt));
  const hit = unit.iotlb.lookup(tag, vpn);
  // A write through an entry whose first-stage leaf is not dirty walks again to set D.
  if (hit >= 0 && ((access & A_WRITE) === 0 || (hit & P_DIRTY) !== 0)) {
    const r = checkAccess(hit & 63, access, pe);
    return r === 0 ? Math.floor(hit / 64) : fault(r, ce, pe.fpd);
  }
  const r = walk(mem, pe, vpn, (access & A_WRITE) !== 0);
  if (r !== 0) return fault(r, ce, pe.fpd);
  const scale = W.sizeIdx === 0 ? 1 : W.sizeIdx === 1 ? 512 : 262144;
  const a = checkAccess(W.perm, access, pe);
  let perm = W.perm;
  if (a === 0 && sink !== undefined) {
    // The access succeeds: the hardware sets the A/D bits the walk asked for.
    const w = AD.words;
    for (let i = 0; i < AD.n; i += 3) sink.accessed(w[i]!, w[i + 1]!, w[i + 2]!);
    if (access & A_WRITE) perm |= P_DIRTY;
  }
  sink?.iotlb(tag, vpn, W.sizeIdx, W.pfn - (vpn % scale), perm);
  return a === 0 ? W.pfn : fault(a, ce, pe.fpd);
}

/** Record in `LAST` what fault reporting needs and return `-reason`. */
function fault(reason: number, ce: ContextEntry | undefined, pasidFpd: boolean): number {
  LAST.haveContext = ce !== undefined;
  LAST.fpd = ce !== undefined && (ce.fpd || pasidFpd);
  LAST.pre = ce?.pre === true;
  return -reason;
}

function walk(mem: Mem, pe: PasidEntry, vpn: number, write: boolean): number {
  AD.n = 0; // only first-stage walks ask for A/D updates
  switch (pe.pgtt) {
    case T_PT:
      W.pfn = vpn;
      W.sizeIdx = 0;
      W.perm = 63;
      return 0;
    case T_SL:
      return sl(mem, pe.slptptr, pe.aw, mem.sllps, vpn, pe.ssade, write);
    case T_FL:
      return fl(mem, pe.flptptr, pe.flpm === 1 ? 5 : 4, mem.fl1gp, false, 0, 0, 0, vpn, write);
    default:
      return fl(
        mem,
        pe.flptptr,
        pe.flpm === 1 ? 5 : 4,
        mem.fl1gp,
        true,
        pe.slptptr,
        pe.aw,
        mem.sllps,
        vpn,
        write,
      );
  }
}
