/**
 * IOMMU_OPTION (Linux iommufd_option, iommufd_option_rlimit_mode,
 * iommufd_ioas_option). Options: IOMMU_OPTION_RLIMIT_MODE (per context:
 * 0 = account per user, 1 = per mm) and IOMMU_OPTION_HUGE_PAGES (per IOAS).
 */
import {
  type Errno,
  errno,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_RLIMIT_MODE,
  isErrno,
} from "@iommu-sim/uapi";
import type { IommufdEvent } from "./messages";
import { getContext, getObject } from "./objects";
import type { IommufdState } from "./state";

/**
 * IOMMU_OPTION_OP_SET. RLIMIT_MODE: object_id must be 0 (else EOPNOTSUPP),
 * the context must have no objects (else EBUSY), value 0 or 1 (else EINVAL);
 * the model runs as a privileged process, so CAP_SYS_RESOURCE holds.
 * HUGE_PAGES: object_id must name an IOAS (else ENOENT). Unknown option → EOPNOTSUPP.
 */
export function decideOptionSet(
  state: IommufdState,
  ctxId: number,
  option: number,
  objectId: number,
  value: bigint,
): IommufdEvent[] | Errno {
  const c = getContext(state, ctxId);
  if (isErrno(c)) return c;
  switch (option) {
    case IOMMU_OPTION_RLIMIT_MODE: {
      if (objectId !== 0) return errno("EOPNOTSUPP", "RLIMIT_MODE is not per object");
      if (Object.keys(c.objects).length > 0) return errno("EBUSY", "the context already has objects");
      if (value !== 0n && value !== 1n) return errno("EINVAL", "RLIMIT_MODE is 0 (user) or 1 (mm)");
      return [
        { type: "iommufd.accountMode.set", data: { ctx: ctxId, accountMode: value === 1n ? "mm" : "user" } },
      ];
    }
    case IOMMU_OPTION_HUGE_PAGES: {
      const ioas = getObject(c, objectId, "ioas");
      if (isErrno(ioas)) return ioas;
      return errno("EOPNOTSUPP", "IOAS options arrive with the iopt wiring");
    }
    default:
      return errno("EOPNOTSUPP", `unknown option ${option}`);
  }
}
