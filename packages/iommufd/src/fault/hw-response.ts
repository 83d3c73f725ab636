/**
 * A page group response reaching the hardware that asked (Linux
 * io-pgfault.c iopf_group_response() → the driver's `page_response` op,
 * answering the group's last page):
 * - VT-d (drivers/iommu/intel/prq.c intel_page_response()): a page group
 *   response descriptor through the invalidation queue — RID, PASID with
 *   PASID_P when the request carried one, the response code as it is,
 *   the group index, LPIG;
 * - SMMUv3 (arm-smmu-v3.c arm_smmu_page_response() of the PRI days):
 *   CMD_PRI_RESP(SID, SSID when the request had one, GRPID, Resp) with
 *   SUCCESS → Success (2), INVALID → Invalid Request (0), FAILURE →
 *   Response Failure (1), and no CMD_SYNC ("it doesn't do anything for
 *   RESUME or PRI_RESP");
 * - the selftest mock: nothing (mock_domain_page_response()).
 */
import { PRI_RESP, type SmmuState, cmd as smmuCmd } from "@iommu-sim/hw-smmu";
import {
  descriptorSize,
  encodeDescriptors,
  pageResponseFor,
  unitFeatures,
  type VtdState,
} from "@iommu-sim/hw-vtd";
import { IOMMU_PGFAULT_FLAGS_PASID_VALID } from "@iommu-sim/uapi";
import type { HwRoot } from "../drivers/driver";
import { driverOf } from "../drivers/index";
import type { FaultSource } from "./queue";

/** Linux `enum iommu_page_response_code` FAILURE (SUCCESS 0 and INVALID 1 equal IOMMUFD_PAGE_RESP_*). */
export const IOMMU_PAGE_RESP_FAILURE = 2;

/** The root the responses are decided on: the hardware slices, when composed. */
export interface ResponseRoot {
  readonly vtd?: VtdState;
  readonly smmu?: SmmuState;
}

/** The last page of a group, as the response needs it. */
export interface GroupTail {
  readonly source: FaultSource;
  readonly pasid: number;
  readonly grpid: number;
  /** The last page's flags (PASID_VALID decides whether the response carries the PASID). */
  readonly flags: number;
}

const SMMU_RESP: Record<number, number> = {
  0: PRI_RESP.SUCC,
  1: PRI_RESP.DENY,
  [IOMMU_PAGE_RESP_FAILURE]: PRI_RESP.FAIL,
};

/** The VT-d page group response descriptor bytes for `g` (one 256-bit descriptor in scalable mode). */
export function vtdResponseBytes(vtd: VtdState, g: GroupTail, code: number): Uint8Array | undefined {
  const unit = vtd.units.get(g.source.unit);
  if (unit === undefined) return undefined;
  const withPasid = (g.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID) !== 0;
  const desc = pageResponseFor(
    {
      rid: g.source.rid,
      ...(withPasid ? { pasid: g.pasid } : {}),
      addr: 0n,
      read: false,
      write: false,
      exec: false,
      privileged: false,
      lpig: true,
      index: g.grpid,
    },
    code,
  );
  return encodeDescriptors([desc], descriptorSize(unitFeatures(unit.config).smts));
}

/** CMD_PRI_RESP for `g`. */
export function smmuResponseCmd(g: GroupTail, code: number): [bigint, bigint] {
  const withPasid = (g.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID) !== 0;
  const [w0, w1] = smmuCmd.priResp(
    g.source.rid,
    withPasid ? g.pasid : undefined,
    g.grpid,
    SMMU_RESP[code] ?? PRI_RESP.FAIL,
  );
  return [w0, w1];
}

/**
 * The events of answering group `g` with `code` (IOMMUFD_PAGE_RESP_* or
 * FAILURE): its driver's `pageResponse` — VT-d `vtd.qi.executed` of the
 * descriptor; SMMU what its command queue does with CMD_PRI_RESP
 * (`smmu.cmd.consumed`, or held behind a queue error); none for the mock
 * or a unit that is gone. Cannot fail (iopf_group_response() returns nothing).
 */
export function responseEvents(
  root: ResponseRoot,
  g: GroupTail,
  code: number,
): { type: string; data: unknown }[] {
  return driverOf(g.source.driver).pageResponse(root as HwRoot, g, code);
}
