/**
 * The vSMMU side of the driver, for iommufd's IOMMU_VIOMMU_TYPE_ARM_SMMUV3:
 * turning a guest's invalidation commands into host commands, and a host
 * event record into the guest's vEVENT.
 *
 * Source: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c
 * (arm_vsmmu_convert_user_cmd, arm_vsmmu_cache_invalidate,
 * arm_vmaster_report_event); include/uapi/linux/iommufd.h
 * (struct iommu_viommu_arm_smmuv3_invalidate, struct iommu_vevent_arm_smmuv3).
 */
import { type Errno, errno, iommuVeventArmSmmuv3, isErrno } from "@iommu-sim/uapi";
import { genmask, getField, putField } from "./bits";
import { OP, type RawCmd } from "./commands";

const SID_MASK = genmask(63, 32);
const VMID_MASK = genmask(47, 32);

/**
 * Convert one guest command as arm_vsmmu_convert_user_cmd does:
 * TLBI_NSNH_ALL → TLBI_NH_ALL of the vSMMU's VMID; TLBI_NH_VA/VAA/ALL/ASID
 * get the vSMMU's VMID forced; ATC_INV, CFGI_CD, CFGI_CD_ALL get the
 * physical StreamID of their virtual one (`vsidToSid`; unknown → EIO);
 * any other opcode → EIO.
 */
export function convertUserCmd(
  vmid: number,
  vsidToSid: (vsid: number) => number | undefined,
  raw: RawCmd,
): RawCmd | Errno {
  const [w0, w1] = raw;
  switch (getField(w0, 7, 0)) {
    case OP.TLBI_NSNH_ALL:
      return [BigInt(OP.TLBI_NH_ALL) | putField(vmid, 47, 32), 0n];
    case OP.TLBI_NH_VA:
    case OP.TLBI_NH_VAA:
    case OP.TLBI_NH_ALL:
    case OP.TLBI_NH_ASID:
      return [(w0 & ~VMID_MASK) | putField(vmid, 47, 32), w1];
    case OP.ATC_INV:
    case OP.CFGI_CD:
    case OP.CFGI_CD_ALL: {
      const sid = vsidToSid(getField(w0, 63, 32));
      if (sid === undefined) return errno("EIO", "no vDEVICE with this virtual StreamID");
      return [(w0 & ~SID_MASK) | putField(sid, 63, 32), w1];
    }
    default:
      return errno("EIO", "command not allowed from a vSMMU");
  }
}

/**
 * Convert a guest's command array (arm_vsmmu_cache_invalidate): stops at
 * the first failure. @returns the converted commands, how many entries were
 * handled (iommufd writes it back to `entry_num`), and the error if any.
 */
export function convertUserCmds(
  vmid: number,
  vsidToSid: (vsid: number) => number | undefined,
  cmds: readonly RawCmd[],
): { readonly cmds: RawCmd[]; readonly done: number; readonly error?: Errno } {
  const out: RawCmd[] = [];
  for (const raw of cmds) {
    const c = convertUserCmd(vmid, vsidToSid, raw);
    if (isErrno(c)) return { cmds: out, done: out.length, error: c };
    out.push(c);
  }
  return { cmds: out, done: out.length };
}

/** The `iommu_vevent_arm_smmuv3` bytes (32) for a host event record, its StreamID replaced by the guest's `vsid` (arm_vmaster_report_event). */
export function veventBytes(record: readonly bigint[], vsid: number): Uint8Array {
  const w0 = ((record[0] ?? 0n) & ~SID_MASK) | putField(vsid, 63, 32);
  return iommuVeventArmSmmuv3.encode({ evt: [w0, record[1] ?? 0n, record[2] ?? 0n, record[3] ?? 0n] });
}
