/**
 * VMSAv8-64 translation-table descriptors (the format SMMUv3 walks for
 * AArch64 stage 1 and stage 2), as 64-bit words split into 32-bit halves
 * (`lo` = bits [31:0], `hi` = bits [63:32]) so hot paths stay in int32
 * arithmetic.
 *
 * Sources: Arm ARM (DDI 0487) D8.3 "Translation table descriptor formats"
 * and D8.4 "Memory access control"; Linux drivers/iommu/io-pgtable-arm.c
 * (ARM_LPAE_PTE_*), which is what Linux writes for SMMU domains.
 */

/** Descriptor type bits [1:0]: 0b11 = table (level < 3) or page (level 3); 0b01 = block (level < 3). */
export const PTE_VALID = 1;
export const PTE_TYPE_TABLE = 3;
export const PTE_TYPE_PAGE = 3;
export const PTE_TYPE_BLOCK = 1;

/** Stage-1 lower attributes (lo word): AttrIndx [4:2], NS 5, AP[1] (EL0 access) 6, AP[2] (read-only) 7, SH [9:8], AF 10, nG 11. */
export const S1_AP_UNPRIV = 1 << 6;
export const S1_AP_RDONLY = 1 << 7;
export const PTE_SH_IS = 3 << 8;
export const PTE_AF = 1 << 10;
export const S1_NG = 1 << 11;
/** Stage-1 AttrIndx for MAIR index 1 (Linux ARM_LPAE_MAIR_ATTR_IDX_CACHE), bits [4:2]. */
export const S1_ATTRIDX_CACHE = 1 << 2;

/** Stage-2 lower attributes: MemAttr [5:2], S2AP[0] (read) 6, S2AP[1] (write) 7. */
export const S2_AP_READ = 1 << 6;
export const S2_AP_WRITE = 1 << 7;
/** Stage-2 MemAttr = Normal, outer/inner write-back (0b1111, Linux ARM_LPAE_PTE_MEMATTR_OIWB). */
export const S2_MEMATTR_OIWB = 0xf << 2;

/** Upper attributes (hi word = bits [63:32]): PXN 53, UXN/XN 54; table bits PXNTable 59, XNTable 60, APTable [62:61]. */
export const HI_PXN = 1 << (53 - 32);
export const HI_XN = 1 << (54 - 32);
export const HI_APTABLE_NO_EL0 = 1 << (61 - 32);
export const HI_APTABLE_RDONLY = 1 << (62 - 32);

/**
 * Access permissions of a translation as a 4-bit mask, as the SMMU checks
 * them against a transaction's RnW and PnU (IHI 0070 §3.10, ARM ARM D8.4).
 */
export const PERM_R_UNPRIV = 1;
export const PERM_W_UNPRIV = 2;
export const PERM_R_PRIV = 4;
export const PERM_W_PRIV = 8;
export const PERM_ALL = 15;

/**
 * Stage-1 permissions from AP[2:1] and the hierarchical APTable
 * restrictions accumulated on the way down (ARM ARM D8.4.1, table D8-49).
 * @param lo descriptor bits [31:0]; `tableNoEl0`/`tableRdonly` from APTable.
 */
export function s1Perm(lo: number, tableNoEl0: boolean, tableRdonly: boolean): number {
  const el0 = (lo & S1_AP_UNPRIV) !== 0 && !tableNoEl0;
  const ro = (lo & S1_AP_RDONLY) !== 0 || tableRdonly;
  let p = PERM_R_PRIV | (ro ? 0 : PERM_W_PRIV);
  if (el0) p |= PERM_R_UNPRIV | (ro ? 0 : PERM_W_UNPRIV);
  return p;
}

/** Stage-2 permissions from S2AP (ARM ARM D8.4.3): bit 6 read, bit 7 write, for privileged and unprivileged alike. */
export function s2Perm(lo: number): number {
  return (
    ((lo & S2_AP_READ) !== 0 ? PERM_R_PRIV | PERM_R_UNPRIV : 0) |
    ((lo & S2_AP_WRITE) !== 0 ? PERM_W_PRIV | PERM_W_UNPRIV : 0)
  );
}

/** The permission bit a transaction needs: write/read × privileged/unprivileged. */
export function needPerm(write: boolean, privileged: boolean): number {
  return write ? (privileged ? PERM_W_PRIV : PERM_W_UNPRIV) : privileged ? PERM_R_PRIV : PERM_R_UNPRIV;
}

/** IOMMU_READ / IOMMU_WRITE / IOMMU_PRIV of Linux include/linux/iommu.h: the `prot` of mapRange. */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_PRIV = 1 << 5;

/**
 * The lower/upper attribute words Linux's io-pgtable-arm writes for `prot`
 * (arm_lpae_prot_to_pte, non-coherent-walk variants aside): stage 1 →
 * AP[1] unless IOMMU_PRIV, AP[2] unless IOMMU_WRITE, AttrIndx cache, nG,
 * SH inner, AF; stage 2 → S2AP from READ/WRITE, MemAttr OIWB, SH inner, AF.
 * XN is not set (no IOMMU_NOEXEC).
 */
export function leafAttrs(stage: 1 | 2, prot: number): number {
  if (stage === 1) {
    let lo = PTE_AF | PTE_SH_IS | S1_NG | S1_ATTRIDX_CACHE;
    if ((prot & IOMMU_PRIV) === 0) lo |= S1_AP_UNPRIV;
    if ((prot & IOMMU_WRITE) === 0) lo |= S1_AP_RDONLY;
    return lo;
  }
  let lo = PTE_AF | PTE_SH_IS | S2_MEMATTR_OIWB;
  if ((prot & IOMMU_READ) !== 0) lo |= S2_AP_READ;
  if ((prot & IOMMU_WRITE) !== 0) lo |= S2_AP_WRITE;
  return lo;
}
