/** The hardware drivers iommufd knows, by name. */
import type { DriverKind, IommuDriver } from "./driver";
import { smmuDriver } from "./smmu";
import { vtdDriver } from "./vtd";

/** The driver of `kind`. */
export function driverOf(kind: DriverKind): IommuDriver {
  return kind === "vtd" ? vtdDriver : smmuDriver;
}
