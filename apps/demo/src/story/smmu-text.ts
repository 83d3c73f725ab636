/** How the account and the web view name what the SMMUv3 answered a page request. */
import { PRI_RESP } from "@iommu-sim/hw-smmu";

/** The name of a CMD_PRI_RESP response code (IHI 0070 §4.7.1; Linux PRI_RESP_DENY / _FAIL / _SUCC: 0, 1, 2). */
export function priRespText(resp: number): string {
  if (resp === PRI_RESP.SUCC) return "Success";
  if (resp === PRI_RESP.FAIL) return "Failure";
  if (resp === PRI_RESP.DENY) return "Denied";
  return `code ${resp}`;
}
