/** The IOMMU drivers iommufd knows, by name. */
import type { DriverKind, IommuDriver } from "./driver";
import { mockDriver } from "./mock";
import { smmuDriver } from "./smmu";
import { vtdDriver } from "./vtd";

const DRIVERS: Readonly<Record<DriverKind, IommuDriver>> = {
  vtd: vtdDriver,
  smmu: smmuDriver,
  mock: mockDriver,
};

/** The driver of `kind`. */
export function driverOf(kind: DriverKind): IommuDriver {
  return DRIVERS[kind];
}
