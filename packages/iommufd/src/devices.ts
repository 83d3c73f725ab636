/**
 * Platform devices as iommufd sees them: which driver and unit each sits
 * behind, and which HWPTs it may share (Linux: a domain belongs to one
 * IOMMU instance's ops; iommufd_device_auto_get_domain() reuses an auto
 * domain only when the attach succeeds, i.e. on the same unit).
 */
import type { DeviceInfo, DriverKind } from "./drivers/driver";
import type { IommufdObject, IommufdState } from "./state";

/**
 * The platform device `name`, or undefined when there is none or it sits
 * behind the selftest mock unit (which only the selftest's MOCK_DOMAIN
 * creates devices on). Its unit number is the index of its IOMMU among the
 * platform's units of the same kind (`vtd.unit.add {unit}` /
 * `smmu.instance.add {instance}` in `createSystemLog`).
 */
export function deviceInfo(state: IommufdState, name: string): DeviceInfo | undefined {
  const p = state.platform;
  const dev = p?.devices.find((d) => d.name === name);
  if (p === undefined || dev === undefined) return undefined;
  const iommu = p.iommus.find((u) => u.name === dev.iommu);
  if (iommu === undefined || iommu.kind === "mock") return undefined;
  const driver: DriverKind = iommu.kind;
  return {
    name,
    driver,
    unit: p.iommus.filter((u) => u.kind === driver).indexOf(iommu),
    rid: dev.rid,
    group: dev.group,
    pasidBits: dev.pasidBits ?? 0,
    ats: dev.ats === true,
    pri: dev.pri === true,
  };
}

/** The DeviceInfo of a bound device object (undefined for a selftest mock device). */
export function objectDevice(state: IommufdState, obj: IommufdObject): DeviceInfo | undefined {
  return obj.device === undefined ? undefined : deviceInfo(state, obj.device);
}

/** Which devices may share a HWPT: `vtd:0`, `smmu:1`…, or `mock` for the selftest driver. */
export function driverKey(info: DeviceInfo | undefined): string {
  return info === undefined ? "mock" : `${info.driver}:${info.unit}`;
}

/** The driver key of HWPT `hwpt` (from the hardware domain behind its kobj; none = mock). */
export function hwptDriverKey(state: IommufdState, hwpt: IommufdObject): string {
  const ref = hwpt.kobj === undefined ? undefined : state.hwDomains[hwpt.kobj];
  return ref === undefined ? "mock" : `${ref.driver}:${ref.unit}`;
}
