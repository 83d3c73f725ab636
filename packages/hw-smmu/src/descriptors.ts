/**
 * The STE and CD words Linux's driver writes for its domains, 4 KiB
 * granule and 48-bit input.
 *
 * Sources: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c
 * (arm_smmu_make_s1_cd, arm_smmu_make_cdtable_ste,
 * arm_smmu_make_s2_domain_ste), arm-smmu-v3-iommufd.c
 * (arm_smmu_make_nested_domain_ste, arm_smmu_make_nested_cd_table_ste),
 * io-pgtable-arm.c (ARM_LPAE_MAIR_*, ARM_LPAE_TCR_RGN_WBWA).
 */
import { bit, getField } from "./bits";
import { encodeCd } from "./cd";
import { field32, IDR5 } from "./regs";
import type { CdTable, SmmuDomain, SmmuInstance } from "./state";
import { EATS, encodeSte, STE_CFG, STE1_MEV } from "./ste";

/** io-pgtable-arm's MAIR: idx0 Normal-NC 0x44, idx1 Normal-WB 0xff, idx2 Device-nGnRE 0x04, idx3 0xf4. */
export const LINUX_MAIR = 0xf404ff44n;
/** TCR IRGN/ORGN = write-back write-allocate (ARM_LPAE_TCR_RGN_WBWA) and SH = inner shareable. */
const RGN_WBWA = 1;
const SH_IS = 3;
/** STE.S1CIR/S1COR = WBRA, S1CSH = ISH (Linux arm_smmu_make_cdtable_ste). */
const S1C_WBRA = 1;

/** The CD Linux writes for a stage-1 domain (arm_smmu_make_s1_cd), 4 KiB granule, 48-bit input. */
export function s1DomainCd(inst: SmmuInstance, d: SmmuDomain): bigint[] {
  return encodeCd({
    t0sz: 64 - d.iaBits,
    tg0: 0,
    ir0: RGN_WBWA,
    or0: RGN_WBWA,
    sh0: SH_IS,
    epd1: true,
    v: true,
    ips: field32(inst.regs.idr[5], ...IDR5.OAS),
    aa64: true,
    r: true,
    a: true,
    aset: true,
    asid: d.asid,
    ttb0: d.ttb,
    mair: LINUX_MAIR,
  });
}

/** The STE Linux writes for a stage-2 domain (arm_smmu_make_s2_domain_ste): VTCR for 4 KiB, 48 bits, SL0 = 2 (level 0). */
export function s2DomainSte(inst: SmmuInstance, d: SmmuDomain, ats: boolean): bigint[] {
  return encodeSte({
    v: true,
    config: STE_CFG.S2_TRANS,
    eats: ats ? EATS.TRANS : EATS.ABT,
    s2vmid: d.vmid,
    s2t0sz: 64 - d.iaBits,
    s2sl0: 2,
    s2ir0: RGN_WBWA,
    s2or0: RGN_WBWA,
    s2sh0: SH_IS,
    s2tg: 0,
    s2ps: field32(inst.regs.idr[5], ...IDR5.OAS),
    s2aa64: true,
    s2ptw: true,
    s2r: true,
    s2ttb: d.ttb,
  });
}

/** The CD-table STE (arm_smmu_make_cdtable_ste). */
export function cdTableSte(table: CdTable, s1dss: number, ats: boolean): bigint[] {
  return encodeSte({
    v: true,
    config: STE_CFG.S1_TRANS,
    s1fmt: table.s1fmt,
    s1ContextPtr: table.base,
    s1cdmax: table.s1cdmax,
    s1dss,
    s1cir: S1C_WBRA,
    s1cor: S1C_WBRA,
    s1csh: SH_IS,
    eats: ats ? EATS.TRANS : EATS.ABT,
  });
}

/** The physical STE for a nested domain (arm_smmu_make_nested_domain_ste). */
export function nestedSte(inst: SmmuInstance, d: SmmuDomain, parent: SmmuDomain, ats: boolean): bigint[] {
  const vste = d.vste ?? [0n, 0n];
  const cfg = bit(vste[0], 0) ? getField(vste[0], 3, 1) : STE_CFG.ABORT;
  if (cfg === STE_CFG.BYPASS) return s2DomainSte(inst, parent, ats);
  if (cfg !== STE_CFG.S1_TRANS) return encodeSte({ v: true, config: STE_CFG.ABORT });
  const s2 = s2DomainSte(inst, parent, ats && d.enableAts === true);
  const w0 = (vste[0] & ~(7n << 1n)) | 1n | (BigInt(STE_CFG.NESTED) << 1n);
  return [w0, s2[1]! | vste[1] | STE1_MEV, ...s2.slice(2)];
}
