/**
 * Platform devices as iommufd sees them: which driver and unit each sits
 * behind, and which HWPTs it may share (Linux: a domain belongs to one
 * IOMMU instance's ops; iommufd_device_auto_get_domain() reuses an auto
 * domain only when the attach succeeds, i.e. on the same unit).
 */
import { MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH } from "@iommu-sim/uapi";
import type { DeviceInfo, DriverKind } from "./drivers/driver";
import type { HwDomainRef, IommufdObject, IommufdState } from "./state";

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
  const driver: Exclude<DriverKind, "mock"> = iommu.kind;
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

/**
 * A selftest mock device (selftest.c `mock_dev_create()`) as the mock
 * driver sees it: unit 0, RID 0 (a mock device has no PCI identity),
 * group −1 (no IOMMU group: it is never bound through
 * `iommufd.device.bind`), MOCK_PASID_WIDTH (20) PASID bits with
 * MOCK_FLAGS_DEVICE_PASID, no ATS, and page requests always possible
 * (`mock_dev_enable_iopf()` cannot fail).
 */
export function mockDeviceInfo(ctx: number, obj: IommufdObject): DeviceInfo {
  const flags = obj.flags ?? 0;
  return {
    name: `mock-dev-${ctx}-${obj.id}`,
    driver: "mock",
    unit: 0,
    rid: 0,
    group: -1,
    pasidBits: flags & MOCK_FLAGS_DEVICE_PASID ? MOCK_PASID_WIDTH : 0,
    ats: false,
    pri: true,
    mock: { ctx, id: obj.id, flags },
  };
}

/**
 * The DeviceInfo of device object `obj` of context `ctx`, whichever driver
 * it sits behind: its platform device's, or the mock's (`mockDeviceInfo`).
 * Undefined for a platform device missing from the platform.
 */
export function deviceOf(state: IommufdState, ctx: number, obj: IommufdObject): DeviceInfo | undefined {
  return obj.device === undefined ? mockDeviceInfo(ctx, obj) : deviceInfo(state, obj.device);
}

/** Which devices may share a HWPT: `vtd:0`, `smmu:1`…, or `mock` for the selftest driver. */
export function driverKey(info: DeviceInfo | undefined): string {
  return info === undefined || info.driver === "mock" ? "mock" : `${info.driver}:${info.unit}`;
}

/** The mock's ref of a domain id (its domains are not recorded in `hwDomains`). */
function mockRef(kobj: number): HwDomainRef {
  return { driver: "mock", unit: 0, domain: kobj };
}

/** The driver domain behind global domain id `kobj` (a HWPT's kobj): a hardware one, else the mock's. */
export function domainRef(state: IommufdState, kobj: number): HwDomainRef {
  return state.hwDomains[kobj] ?? mockRef(kobj);
}

/** The driver key of HWPT `hwpt` (from the domain behind its kobj). */
export function hwptDriverKey(state: IommufdState, hwpt: IommufdObject): string {
  const ref = hwpt.kobj === undefined ? undefined : state.hwDomains[hwpt.kobj];
  return ref === undefined ? "mock" : `${ref.driver}:${ref.unit}`;
}
