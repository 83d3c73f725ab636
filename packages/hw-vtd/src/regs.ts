/**
 * The capability (CAP_REG, offset 0x08) and extended capability (ECAP_REG,
 * offset 0x10) registers of a VT-d remapping unit: field positions, a
 * builder and accessors.
 *
 * Source: Intel VT-d specification rev 4.1 §11.4.2 (CAP_REG) and §11.4.3
 * (ECAP_REG); the same positions as Linux drivers/iommu/intel/iommu.h
 * (`cap_*` / `ecap_*` macros) and QEMU hw/i386/intel_iommu_internal.h.
 */

/** A register field: `width` bits starting at bit `shift`. */
export interface RegField {
  readonly shift: number;
  readonly width: number;
}

const f = (shift: number, width = 1): RegField => ({ shift, width });

/** CAP_REG fields (VT-d §11.4.2; Linux iommu.h `cap_*`). */
export const CAP = {
  /** Number of domains supported: 2^(4 + 2·ND) domain ids. */
  ND: f(0, 3),
  /** Required write-buffer flushing. */
  RWBF: f(4),
  /** Caching mode: not-present entries may be cached (a virtual IOMMU). */
  CM: f(7),
  /** Supported adjusted guest address widths: bit 1 = 39-bit (3-level), bit 2 = 48-bit (4-level), bit 3 = 57-bit (5-level). */
  SAGAW: f(8, 5),
  /** Maximum guest address width minus one (e.g. 47 for 48 bits). */
  MGAW: f(16, 6),
  /** Zero-length read. */
  ZLR: f(22),
  /** Fault-recording register offset from the register base, in 16-byte units. */
  FRO: f(24, 10),
  /** Second-stage large page support: bit 0 = 2 MiB, bit 1 = 1 GiB. */
  SLLPS: f(34, 4),
  /** Page-selective invalidation supported. */
  PSI: f(39),
  /** Number of fault-recording registers minus one. */
  NFR: f(40, 8),
  /** Maximum address mask value of page-selective invalidation (log2 of 4 KiB pages). */
  MAMV: f(48, 6),
  /** Write draining. */
  DWD: f(54),
  /** Read draining. */
  DRD: f(55),
  /** First-stage 1 GiB page support. */
  FL1GP: f(56),
  /** Posted interrupts. */
  PI: f(59),
  /** First-stage 5-level paging support. */
  FL5LP: f(60),
} as const satisfies Record<string, RegField>;

/** ECAP_REG fields (VT-d §11.4.3; Linux iommu.h `ecap_*`). */
export const ECAP = {
  /** Page-walk coherency. */
  C: f(0),
  /** Queued invalidation support. */
  QI: f(1),
  /** Device-TLB (ATS) support. */
  DT: f(2),
  /** Interrupt remapping. */
  IR: f(3),
  /** Extended interrupt mode. */
  EIM: f(4),
  /** Pass-through translation. */
  PT: f(6),
  /** Snoop control: the PGSNP / SNP bits are honoured (enforce cache coherency). */
  SC: f(7),
  /** IOTLB register offset, in 16-byte units. */
  IRO: f(8, 10),
  /** Maximum handle mask value. */
  MHMV: f(20, 4),
  /** Memory type support. */
  MTS: f(25),
  /** Nested translation support. */
  NEST: f(26),
  /** Page request support (PRQ). */
  PRS: f(29),
  /** Execute request support. */
  ERS: f(30),
  /** Supervisor request support. */
  SRS: f(31),
  /** No write flag support. */
  NWFS: f(33),
  /** Extended accessed flag support. */
  EAFS: f(34),
  /** PASID size supported: PASIDs of PSS + 1 bits. */
  PSS: f(35, 5),
  /** PASID support. */
  PASID: f(40),
  /** Device-TLB invalidation throttling. */
  DIT: f(41),
  /** Page-request drain support. */
  PDS: f(42),
  /** Scalable-mode translation support. */
  SMTS: f(43),
  /** Second-stage accessed/dirty support. */
  SSADS: f(45),
  /** Second-stage translation support. */
  SLTS: f(46),
  /** First-stage translation support. */
  FLTS: f(47),
  /** Scalable-mode page-walk coherency. */
  SMPWC: f(48),
  /** RID_PASID support. */
  RPS: f(49),
} as const satisfies Record<string, RegField>;

/** The value of `field` in register `reg`. */
export function regGet(reg: bigint, field: RegField): number {
  return Number((reg >> BigInt(field.shift)) & ((1n << BigInt(field.width)) - 1n));
}

/**
 * Build a register value from field values (unnamed bits zero).
 * @throws RangeError when a value does not fit its field (a programming error).
 */
export function regBuild<K extends string>(
  fields: Readonly<Record<K, RegField>>,
  values: Partial<Record<K, number>>,
): bigint {
  let reg = 0n;
  for (const [name, value] of Object.entries(values) as [K, number][]) {
    const fd = fields[name];
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** fd.width)
      throw new RangeError(`${name}=${value} does not fit ${fd.width} bits`);
    reg |= BigInt(value) << BigInt(fd.shift);
  }
  return reg;
}

/** Number of domain ids CAP.ND allows: 2^(4 + 2·ND) (Linux `cap_ndoms`). */
export function capNumDomains(cap: bigint): number {
  return 2 ** (4 + 2 * regGet(cap, CAP.ND));
}

/** Number of fault-recording registers (Linux `cap_num_fault_regs`: NFR + 1). */
export function capNumFaultRegs(cap: bigint): number {
  return regGet(cap, CAP.NFR) + 1;
}

/** Maximum guest address width in bits (Linux `cap_mgaw`: MGAW + 1). */
export function capMgaw(cap: bigint): number {
  return regGet(cap, CAP.MGAW) + 1;
}

/**
 * The largest adjusted guest address width the unit supports within MGAW,
 * as an AGAW code (1 = 39-bit 3-level, 2 = 48-bit 4-level, 3 = 57-bit
 * 5-level), or -1 if none. Linux iommu.c `__iommu_calculate_agaw()`.
 */
export function capMaxAgaw(cap: bigint): number {
  const sagaw = regGet(cap, CAP.SAGAW);
  const mgaw = capMgaw(cap);
  for (let agaw = 3; agaw >= 1; agaw--) if (sagaw & (1 << agaw) && agawToWidth(agaw) <= mgaw) return agaw;
  return -1;
}

/** Address width in bits of an AGAW code: 30 + 9·agaw (39, 48, 57). */
export function agawToWidth(agaw: number): number {
  return 30 + 9 * agaw;
}

/** Paging levels of an AGAW code: agaw + 2 (3, 4, 5). */
export function agawToLevels(agaw: number): number {
  return agaw + 2;
}

/**
 * A capable scalable-mode unit like a recent Intel server part (Sapphire
 * Rapids class): 65,536 domains (ND=6), 4- and 5-level second stage, MGAW
 * 57 bits, 2 MiB + 1 GiB second-stage pages, PSI with MAMV 18, 8 fault
 * registers, FL1GP, FL5LP.
 */
export const DEFAULT_CAP: bigint = regBuild(CAP, {
  ND: 6,
  SAGAW: 0b01100,
  MGAW: 56,
  ZLR: 1,
  FRO: 0x40,
  SLLPS: 0b0011,
  PSI: 1,
  NFR: 7,
  MAMV: 18,
  DWD: 1,
  DRD: 1,
  FL1GP: 1,
  FL5LP: 1,
});

/**
 * Scalable mode with first- and second-stage translation, nesting, PASID
 * (20 bits), page requests, supervisor and execute requests, snoop control,
 * pass-through, second-stage A/D (dirty tracking), queued invalidation and
 * device TLBs.
 */
export const DEFAULT_ECAP: bigint = regBuild(ECAP, {
  QI: 1,
  DT: 1,
  IR: 1,
  EIM: 1,
  PT: 1,
  SC: 1,
  IRO: 0x50,
  MHMV: 15,
  NEST: 1,
  PRS: 1,
  ERS: 1,
  SRS: 1,
  EAFS: 1,
  PSS: 19,
  PASID: 1,
  SMTS: 1,
  SSADS: 1,
  SLTS: 1,
  FLTS: 1,
  SMPWC: 1,
  RPS: 1,
});

/** CAP/ECAP fields the translation hot path needs, decoded once per register pair. */
export interface Features {
  /** CAP.SLLPS. */
  readonly sllps: number;
  /** CAP.FL1GP. */
  readonly fl1gp: boolean;
  /** CAP.FL5LP. */
  readonly fl5lp: boolean;
  readonly flts: boolean;
  readonly slts: boolean;
  readonly nest: boolean;
  readonly pt: boolean;
  readonly sc: boolean;
  readonly srs: boolean;
  readonly eafs: boolean;
  readonly prs: boolean;
  readonly pasid: boolean;
  readonly smts: boolean;
  readonly smpwc: boolean;
  /** ECAP.SSADS: second-stage accessed/dirty support. */
  readonly ssads: boolean;
}

/** Decode the features of a CAP/ECAP pair (see `unitFeatures` for the memoised form). */
export function featuresOf(cap: bigint, ecap: bigint): Features {
  const e = (fd: RegField) => regGet(ecap, fd) === 1;
  return Object.freeze({
    sllps: regGet(cap, CAP.SLLPS),
    fl1gp: regGet(cap, CAP.FL1GP) === 1,
    fl5lp: regGet(cap, CAP.FL5LP) === 1,
    flts: e(ECAP.FLTS),
    slts: e(ECAP.SLTS),
    nest: e(ECAP.NEST),
    pt: e(ECAP.PT),
    sc: e(ECAP.SC),
    srs: e(ECAP.SRS),
    eafs: e(ECAP.EAFS),
    prs: e(ECAP.PRS),
    pasid: e(ECAP.PASID),
    smts: e(ECAP.SMTS),
    smpwc: e(ECAP.SMPWC),
    ssads: e(ECAP.SSADS),
  });
}
