/** The IOMMU drivers iommufd knows, by name. */
import type { DriverKind, IommuDriver } from "./driver";
import { mockDriver } from "./mock";
import { smmuDriver } from "./smmu";
import { vtdDriver } from "./vtd";

/** The driver of `kind`. */
export function driverOf(kind: DriverKind): IommuDriver {
  // Comparisons of interned strings rather than a keyed load: this runs on every map.
  return kind === "vtd" ? vtdDriver : kind === "smmu" ? smmuDriver : mockDriver;
}
