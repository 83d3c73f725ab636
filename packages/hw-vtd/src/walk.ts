/**
 * Page walks as the hardware performs them: second stage (3/4/5 levels,
 * 2 MiB and 1 GiB leaves where CAP.SLLPS allows), first stage (4/5-level
 * x86-64 format, 1 GiB leaves with CAP.FL1GP), and nested — every
 * first-stage table access and the final address translated through the
 * second stage.
 *
 * Walks read entries as u32 words of the table frames and report through
 * the `WALK` scratch object: they allocate nothing. A walk returns 0 on success or a fault
 * reason (`FR`). Permission bits accumulate as the logical AND over the
 * levels (R/W for the second stage; R/W, U/S and NOT XD for the first).
 *
 * Walks never write: a walk lists the accessed/dirty updates it needs in
 * `AD_UPDATES` — first-stage A/D always, second-stage A/D with the PASID
 * entry's SSADE — and the caller performs them when the access succeeds.
 * The extended accessed flag (EAFE) is not modelled.
 *
 * Source: VT-d spec rev 4.1 §3.6 (first-stage translation), §3.7
 * (second-stage), §3.8 (nested), §9.7–§9.8 (entry formats); QEMU
 * hw/i386/intel_iommu.c `vtd_iova_to_slpte()` / `vtd_iova_to_fspte()`
 * (per-level access checks).
 */
import { FR } from "./fault-reasons";
import { PERM, PERM_ALL } from "./iotlb";
import { frameWords, type Mem } from "./memory";
import { FL, FL_XD_HI, SL } from "./pte";

/** The result of the last successful walk. */
export const WALK = {
  /** The 4 KiB frame the input page translates to (exact, inside a large page). */
  pfn: 0,
  /** Page size index of the leaf: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
  sizeIdx: 0,
  /** Accumulated `PERM` bits. */
  perm: 0,
};

/**
 * Accessed/dirty updates the last walk needs: `n` numbers in `words` as
 * triples (entry PA, new low word, high word) — A on every entry used, D on
 * the leaf of a write; first-stage entries always, second-stage entries
 * with SSADE. `n` = 0 when every bit was already set. `flWalk` and
 * `walkSecondStage` start a new list; `slWalk` appends to it.
 */
export const AD_UPDATES = { n: 0, words: [] as number[] };

const SCALE = [1, 512, 262144, 134217728, 68719476736] as const;

// Hot-path aliases: module-local bindings, read once (a transpiled import is a getter call per use).
const words4k = frameWords;
const P_READ = PERM.READ;
const P_WRITE = PERM.WRITE;
const P_EXEC = PERM.EXEC;
const P_USER = PERM.USER;
const P_SL_WRITE = PERM.SL_WRITE;
const P_ALL = PERM_ALL;
const SL_R = SL.R;
const SL_W = SL.W;
const SL_PS = SL.PS;
const SL_A = SL.A;
const SL_D = SL.D;
const FL_P = FL.P;
const FL_RW = FL.RW;
const FL_US = FL.US;
const FL_PS = FL.PS;
const XD = FL_XD_HI;
const R_BEYOND_AW = FR.ADDR_BEYOND_AW;
const R_SS_P = FR.SS_ENTRY_P;
const R_SS_RSVD = FR.SS_ENTRY_RSVD;
const R_FS_P = FR.FS_ENTRY_P;
const R_FS_RSVD = FR.FS_ENTRY_RSVD;
const R_NON_CANONICAL = FR.NON_CANONICAL;
const R_FS_BEYOND = FR.FS_ADDR_BEYOND_MGAW_NESTED;
const R_FS_READ_NESTED = FR.FS_ENTRY_READ_NESTED;
const R_FS_AD_NESTED = FR.FS_AD_WRITE_NESTED;
const FL_A = FL.A;
const FL_D = FL.D;
const P_DIRTY = PERM.DIRTY;
const AD = AD_UPDATES;

/** The second-stage parameters a walk needs. */
export interface SlParams {
  /** Second-stage root table PA. */
  readonly pgd: number;
  /** AGAW code (PASID-entry AW): levels = agaw + 2. */
  readonly agaw: number;
  /** CAP.SLLPS. */
  readonly sllps: number;
  /** PASID-entry SSADE: set A/D bits in second-stage entries (see `AD_UPDATES`). */
  readonly ssade?: boolean;
}

function pfnOf(lo: number, hi: number): number {
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}

/**
 * Walk the second stage for 4 KiB input page `vpn`.
 * @returns 0 (result in `WALK`), or ADDR_BEYOND_AW, SS_ENTRY_P (R = W = 0),
 *   SS_ENTRY_RSVD (PS where not allowed, unaligned large page).
 */
export function walkSecondStage(mem: Mem, sl: SlParams, vpn: number, write = false): number {
  AD.n = 0;
  return slWalk(mem, sl.pgd, sl.agaw, sl.sllps, vpn, sl.ssade === true, write);
}

/** `walkSecondStage` with scalar parameters (no object on the hot path). */
export function slWalk(
  mem: Mem,
  pgd: number,
  agaw: number,
  sllps: number,
  vpn: number,
  ssade = false,
  write = false,
): number {
  const levels = agaw + 2;
  if (vpn >= SCALE[levels - 1]! * 512) return R_BEYOND_AW;
  // Below 2^27 pages (512 GiB) the levels under 4 index by shifts instead of float division.
  const small = vpn < 0x800_0000;
  // Tables are tracked by frame number: no division or modulo of (> 2^32) addresses.
  let tablePfn = Math.floor(pgd / 4096);
  let perm = P_USER | P_EXEC | P_DIRTY;
  let first = true;
  for (let level = levels; level >= 1; level--) {
    const index = small
      ? level > 3
        ? 0
        : (vpn >>> (9 * (level - 1))) & 511
      : Math.floor(vpn / SCALE[level - 1]!) % 512;
    const words = words4k(mem, tablePfn);
    if (words === null) return R_SS_P;
    const lo = words[index * 2]!;
    if ((lo & (SL_R | SL_W)) === 0) return R_SS_P;
    const bits = (lo & SL_R ? P_READ : 0) | (lo & SL_W ? P_WRITE | P_SL_WRITE : 0);
    perm = first ? perm | bits : perm & (bits | P_USER | P_EXEC | P_DIRTY);
    first = false;
    const hi = words[index * 2 + 1]!;
    const pfn = pfnOf(lo, hi);
    const isLeaf = level === 1 || (lo & SL_PS) !== 0;
    if (ssade) {
      // SSADE: the hardware sets A in every entry used and D in the leaf of a write.
      const want = SL_A | (isLeaf && write ? SL_D : 0);
      if ((lo & want) !== want) {
        const w = AD.words;
        w[AD.n] = tablePfn * 4096 + index * 8;
        w[AD.n + 1] = (lo | want) >>> 0;
        w[AD.n + 2] = hi;
        AD.n += 3;
      }
      if (isLeaf && (lo & SL_D) === 0) perm &= ~P_DIRTY;
    }
    if (level === 1) return leaf(pfn, 0, perm);
    if (isLeaf) {
      const scale = SCALE[level - 1]!;
      if (level > 3 || (sllps & (1 << (level - 2))) === 0 || pfn % scale !== 0) return R_SS_RSVD;
      return leaf(pfn + (vpn % scale), level - 1, perm);
    }
    tablePfn = pfn;
  }
  return R_SS_RSVD;
}

function leaf(pfn: number, sizeIdx: number, perm: number): number {
  WALK.pfn = pfn;
  WALK.sizeIdx = sizeIdx;
  WALK.perm = perm;
  return 0;
}

/** The first-stage parameters a walk needs. */
export interface FlParams {
  /** First-stage root table address (a GPA when nested). */
  readonly flptr: number;
  /** 4 or 5 (PASID-entry FLPM 0/1). */
  readonly levels: number;
  /** CAP.FL1GP. */
  readonly fl1gp: boolean;
  /** Nested: the second stage every access goes through. */
  readonly nest?: SlParams;
}

/** Whether 4 KiB page `vpn` (of a 64-bit address) is canonical for a `levels`-level first stage. */
function canonical(vpn: number, levels: number): boolean {
  const half = levels === 5 ? 2 ** 44 : 2 ** 35;
  return vpn < half || vpn >= 2 ** 52 - half;
}

/** Translate a first-stage table GPA through the second stage (nested); the table PA or -reason. */
/** Translate a first-stage table's frame (a GPA frame) through the second stage: the host frame, or -reason. */
function tableFrame(
  mem: Mem,
  pgd: number,
  agaw: number,
  sllps: number,
  gpaPfn: number,
  ssade: boolean,
): number {
  const r = slWalk(mem, pgd, agaw, sllps, gpaPfn, ssade, false);
  if (r === R_BEYOND_AW) return -R_FS_BEYOND;
  if (r !== 0) return -r;
  if ((WALK.perm & P_READ) === 0) return -R_FS_READ_NESTED;
  return WALK.pfn;
}

/**
 * Walk the first stage (and, nested, the second) for 4 KiB input page
 * `vpn` (< 2^52; the upper canonical half included).
 * @returns 0 (result in `WALK`; nested: the final host frame, the smaller of
 *   the two page sizes, permissions of both stages), or NON_CANONICAL,
 *   FS_ENTRY_P, FS_ENTRY_RSVD, and nested FS_ADDR_BEYOND_MGAW_NESTED,
 *   FS_ENTRY_READ_NESTED or a second-stage reason.
 */
export function walkFirstStage(mem: Mem, fl: FlParams, vpn: number, write = false): number {
  const n = fl.nest;
  if (n === undefined) return flWalk(mem, fl.flptr, fl.levels, fl.fl1gp, false, 0, 0, 0, vpn, write);
  return flWalk(
    mem,
    fl.flptr,
    fl.levels,
    fl.fl1gp,
    true,
    n.pgd,
    n.agaw,
    n.sllps,
    vpn,
    write,
    n.ssade === true,
  );
}

/**
 * `walkFirstStage` with scalar parameters; `nested` selects the second stage
 * (pgd, agaw, sllps). A `write` walk also asks for the leaf's D bit; the
 * A/D updates needed are left in `AD_UPDATES` (nested: a table page the
 * second stage does not let it write faults 0x77 instead).
 */
export function flWalk(
  mem: Mem,
  flptr: number,
  levels: number,
  fl1gp: boolean,
  nested: boolean,
  pgd: number,
  agaw: number,
  sllps: number,
  vpn: number,
  write = false,
  ssade = false,
): number {
  AD.n = 0;
  if (!canonical(vpn, levels)) return R_NON_CANONICAL;
  let tablePfn = Math.floor(flptr / 4096);
  let perm = P_ALL;
  for (let level = levels; level >= 1; level--) {
    const scale = SCALE[level - 1]!;
    const index = Math.floor(vpn / scale) % 512;
    let framePfn = tablePfn;
    let writable = true;
    if (nested) {
      framePfn = tableFrame(mem, pgd, agaw, sllps, tablePfn, ssade);
      if (framePfn < 0) return -framePfn;
      writable = (WALK.perm & P_SL_WRITE) !== 0;
    }
    const words = words4k(mem, framePfn);
    const lo = words === null ? 0 : words[index * 2]!;
    if ((lo & FL_P) === 0) return R_FS_P;
    const hi = words![index * 2 + 1]!;
    const isLeaf = level === 1 || (lo & FL_PS) !== 0;
    const want = FL_A | (isLeaf && write ? FL_D : 0);
    if ((lo & want) !== want) {
      if (!writable) return R_FS_AD_NESTED;
      const w = AD.words;
      w[AD.n] = framePfn * 4096 + index * 8;
      w[AD.n + 1] = (lo | want) >>> 0;
      w[AD.n + 2] = hi;
      AD.n += 3;
    }
    // DIRTY reports the leaf's D as read; the caller adds it when it applies the update.
    if (isLeaf && (lo & FL_D) === 0) perm &= ~P_DIRTY;
    if ((lo & FL_RW) === 0) perm &= ~P_WRITE;
    if ((lo & FL_US) === 0) perm &= ~P_USER;
    if (hi & XD) perm &= ~P_EXEC;
    const pfn = pfnOf(lo, hi);
    let gpaPfn: number;
    let sizeIdx: number;
    if (level === 1) {
      gpaPfn = pfn;
      sizeIdx = 0;
    } else if (lo & FL_PS) {
      // In a large-page entry address bit 12 is PAT; bits below the page size must be zero.
      if (level > 3 || (level === 3 && !fl1gp) || pfn % scale > 1) return R_FS_RSVD;
      gpaPfn = pfn - (pfn % scale) + (vpn % scale);
      sizeIdx = level - 1;
    } else {
      tablePfn = pfn;
      continue;
    }
    if (!nested) return leaf(gpaPfn, sizeIdx, perm);
    const r = slWalk(mem, pgd, agaw, sllps, gpaPfn, ssade, write);
    if (r !== 0) return r;
    const slPerm = WALK.perm;
    const combined =
      (perm & (P_USER | P_EXEC | P_DIRTY)) |
      (slPerm & P_READ) |
      (perm & slPerm & P_WRITE) |
      (slPerm & P_SL_WRITE);
    return leaf(WALK.pfn, Math.min(sizeIdx, WALK.sizeIdx), combined);
  }
  return R_FS_RSVD;
}
