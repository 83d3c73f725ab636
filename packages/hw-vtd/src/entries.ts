/**
 * Scalable-mode translation structures as the hardware reads them: root
 * entries (128-bit), scalable-mode context entries (256-bit), PASID
 * directory entries (64-bit) and scalable-mode PASID-table entries
 * (512-bit), each an array of little-endian u64 words (bigint).
 *
 * Source: VT-d spec rev 4.1 §9.2 (scalable-mode root entry), §9.4
 * (scalable-mode context entry), §9.5 (PASID directory entry), §9.6
 * (scalable-mode PASID-table entry); Linux drivers/iommu/intel/pasid.h
 * (`pasid_set_*`) and iommu.h / pasid.c (`context_set_sm_*`,
 * `intel_pasid_setup_sm_context`).
 */

/** Bytes per scalable-mode root entry (lower and upper context-table pointers). */
export const ROOT_ENTRY_SIZE = 16;
/** Bytes per scalable-mode context entry; a 4 KiB context table holds 128 (devfn 0–127 or 128–255). */
export const CONTEXT_ENTRY_SIZE = 32;
/** Bytes per PASID directory entry. */
export const PASID_DIR_ENTRY_SIZE = 8;
/** Bytes per scalable-mode PASID-table entry; a 4 KiB PASID table holds 64. */
export const PASID_ENTRY_SIZE = 64;
/** log2 of PASIDs per PASID table (Linux PASID_PDE_SHIFT). */
export const PASID_PDE_SHIFT = 6;

/** PGTT: PASID-granular translation type (VT-d §9.6; Linux PASID_ENTRY_PGTT_*). */
export const PGTT = {
  /** First-stage only. */
  FL_ONLY: 1,
  /** Second-stage only. */
  SL_ONLY: 2,
  /** Nested: first stage, every access and the result through the second stage. */
  NESTED: 3,
  /** Pass-through: output = input. */
  PT: 4,
} as const;

const PAGE_MASK = ~0xfffn & 0xffff_ffff_ffff_ffffn;
const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
const bits = (v: bigint, lo: number, width: number): number =>
  Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
const flag = (b: boolean | undefined, n: number): bigint => (b === true ? 1n << BigInt(n) : 0n);

/** A decoded scalable-mode root entry: the context tables of devfn 0–127 (lower) and 128–255 (upper). */
export interface RootEntry {
  /** LP: lower context table present. */
  readonly lowerPresent: boolean;
  /** LCTP: lower context table PA (bytes, 4 KiB aligned). */
  readonly lowerCtp: number;
  /** UP: upper context table present. */
  readonly upperPresent: boolean;
  /** UCTP: upper context table PA. */
  readonly upperCtp: number;
}

/** Root entry words `[lo, hi]`: bit 0 present, bits 63:12 context-table pointer, per half. */
export function encodeRootEntry(e: RootEntry): [bigint, bigint] {
  return [
    (BigInt(e.lowerCtp) & PAGE_MASK) | flag(e.lowerPresent, 0),
    (BigInt(e.upperCtp) & PAGE_MASK) | flag(e.upperPresent, 0),
  ];
}

/** Decode `[lo, hi]` (see `encodeRootEntry`). */
export function decodeRootEntry(lo: bigint, hi: bigint): RootEntry {
  return {
    lowerPresent: bit(lo, 0),
    lowerCtp: Number(lo & PAGE_MASK),
    upperPresent: bit(hi, 0),
    upperCtp: Number(hi & PAGE_MASK),
  };
}

/** Root-entry reserved bits (11:1 of each half) — non-zero → fault 0x3A. */
export function rootEntryReservedSet(lo: bigint, hi: bigint): boolean {
  return ((lo | hi) & 0xffen) !== 0n;
}

/** A decoded scalable-mode context entry (VT-d §9.4). */
export interface ContextEntry {
  /** P. */
  readonly present: boolean;
  /** FPD: fault processing disabled (faults are not recorded). */
  readonly fpd: boolean;
  /** DTE: device-TLB (ATS) enable. */
  readonly dte: boolean;
  /** PASIDE: requests-with-PASID allowed. */
  readonly pasidEnable: boolean;
  /** PRE: page requests enabled. */
  readonly pre: boolean;
  /** PDTS: the PASID directory has 2^(PDTS+7) entries. */
  readonly pdts: number;
  /** PASIDDIRPTR: PASID directory PA (bytes, 4 KiB aligned). */
  readonly pasidDirPtr: number;
  /** RID_PASID: the PASID used for requests-without-PASID (20 bits). */
  readonly ridPasid: number;
}

/**
 * Context entry words `[q0, q1, q2, q3]`: q0 bit 0 P, 1 FPD, 2 DTE, 3 PASIDE,
 * 4 PRE, 11:9 PDTS, 63:12 PASIDDIRPTR; q1 bits 19:0 RID_PASID.
 */
export function encodeContextEntry(e: ContextEntry): [bigint, bigint, bigint, bigint] {
  const q0 =
    (BigInt(e.pasidDirPtr) & PAGE_MASK) |
    (BigInt(e.pdts & 7) << 9n) |
    flag(e.pre, 4) |
    flag(e.pasidEnable, 3) |
    flag(e.dte, 2) |
    flag(e.fpd, 1) |
    flag(e.present, 0);
  return [q0, BigInt(e.ridPasid & 0xfffff), 0n, 0n];
}

/** Decode context-entry words (see `encodeContextEntry`). */
export function decodeContextEntry(q0: bigint, q1: bigint): ContextEntry {
  return {
    present: bit(q0, 0),
    fpd: bit(q0, 1),
    dte: bit(q0, 2),
    pasidEnable: bit(q0, 3),
    pre: bit(q0, 4),
    pdts: bits(q0, 9, 3),
    pasidDirPtr: Number(q0 & PAGE_MASK),
    ridPasid: bits(q1, 0, 20),
  };
}

/** Context-entry reserved bits (q0 8:5, q1 63:20, q2, q3) — non-zero → fault 0x42. */
export function contextEntryReservedSet(q0: bigint, q1: bigint, q2: bigint, q3: bigint): boolean {
  return (q0 & 0x1e0n) !== 0n || q1 >> 20n !== 0n || q2 !== 0n || q3 !== 0n;
}

/** PASID directory entry: bit 0 present, bit 1 FPD, bits 63:12 PASID-table PA. */
export function encodePasidDirEntry(tablePa: number, present = true): bigint {
  return (BigInt(tablePa) & PAGE_MASK) | (present ? 1n : 0n);
}

/** A decoded scalable-mode PASID-table entry (VT-d §9.6). */
export interface PasidEntry {
  /** P. */
  readonly present: boolean;
  /** FPD. */
  readonly fpd: boolean;
  /** AW: second-stage AGAW code (1 = 39-bit/3-level, 2 = 48/4, 3 = 57/5). */
  readonly aw: number;
  /** SSADE: second-stage accessed/dirty enable. */
  readonly ssade: boolean;
  /** PGTT (see `PGTT`). */
  readonly pgtt: number;
  /** SSPTPTR: second-stage table PA (bytes). */
  readonly slptptr: number;
  /** DID: domain id (16 bits). */
  readonly did: number;
  /** PWSNP: page-walk snoop. */
  readonly pwsnp: boolean;
  /** PGSNP: page snoop (force snooping of the final access). */
  readonly pgsnp: boolean;
  /** SRE: supervisor requests enabled. */
  readonly sre: boolean;
  /** FLPM: first-stage paging mode (0 = 4-level, 1 = 5-level). */
  readonly flpm: number;
  /** WPE: write-protect enable for supervisor requests. */
  readonly wpe: boolean;
  /** EAFE: extended accessed flag enable. */
  readonly eafe: boolean;
  /** FSPTPTR (FLPTPTR): first-stage table PA (bytes; a GPA when nested). */
  readonly flptptr: number;
}

/** An all-zero (not present) PASID entry. */
export const EMPTY_PASID_ENTRY: PasidEntry = Object.freeze({
  present: false,
  fpd: false,
  aw: 0,
  ssade: false,
  pgtt: 0,
  slptptr: 0,
  did: 0,
  pwsnp: false,
  pgsnp: false,
  sre: false,
  flpm: 0,
  wpe: false,
  eafe: false,
  flptptr: 0,
});

/**
 * PASID entry words `val[0..7]` (Linux `struct pasid_entry`): val[0] bit 0 P,
 * 1 FPD, 4:2 AW, 8:6 PGTT, 9 SSADE, 63:12 SSPTPTR; val[1] 15:0 DID, bit 23
 * PWSNP, bit 24 PGSNP; val[2] bit 0 SRE, 3:2 FLPM, 4 WPE, 7 EAFE, 63:12 FSPTPTR.
 */
export function encodePasidEntry(e: PasidEntry): bigint[] {
  const v0 =
    (BigInt(e.slptptr) & PAGE_MASK) |
    flag(e.ssade, 9) |
    (BigInt(e.pgtt & 7) << 6n) |
    (BigInt(e.aw & 7) << 2n) |
    flag(e.fpd, 1) |
    flag(e.present, 0);
  const v1 = BigInt(e.did & 0xffff) | flag(e.pwsnp, 23) | flag(e.pgsnp, 24);
  const v2 =
    (BigInt(e.flptptr) & PAGE_MASK) |
    flag(e.eafe, 7) |
    flag(e.wpe, 4) |
    (BigInt(e.flpm & 3) << 2n) |
    flag(e.sre, 0);
  return [v0, v1, v2, 0n, 0n, 0n, 0n, 0n];
}

/** Decode PASID-entry words (see `encodePasidEntry`). */
export function decodePasidEntry(v0: bigint, v1: bigint, v2: bigint): PasidEntry {
  return {
    present: bit(v0, 0),
    fpd: bit(v0, 1),
    aw: bits(v0, 2, 3),
    ssade: bit(v0, 9),
    pgtt: bits(v0, 6, 3),
    slptptr: Number(v0 & PAGE_MASK),
    did: bits(v1, 0, 16),
    pwsnp: bit(v1, 23),
    pgsnp: bit(v1, 24),
    sre: bit(v2, 0),
    flpm: bits(v2, 2, 2),
    wpe: bit(v2, 4),
    eafe: bit(v2, 7),
    flptptr: Number(v2 & PAGE_MASK),
  };
}
