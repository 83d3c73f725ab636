/**
 * The selftest mock behind the driver interface (drivers/mock.ts), beside
 * VT-d and SMMUv3: hw info, the dirty-tracking capability and its two
 * refusals, translation of DMA requests through each driver, page
 * responses and reserved regions.
 * Golden values: drivers/iommu/iommufd/iommufd_test.h
 * (IOMMU_HW_INFO_TYPE_SELFTEST 0xfeedbeef, IOMMU_HW_INFO_SELFTEST_REGVAL
 * 0xdeadbeef, MOCK_FLAGS_DEVICE_NO_DIRTY 1); tools/testing/selftests/iommu/
 * iommufd.c FIXTURE(iommufd_dirty_tracking) enforce_dirty (a NO_DIRTY
 * device: EINVAL attaching a dirty-tracking HWPT, EOPNOTSUPP allocating
 * one); Linux's reserved windows (VT-d IOAPIC 0xFEE00000–0xFEEFFFFF, SMMU
 * MSI_IOVA_BASE 0x8000000 + 1 MiB); VT-d spec 3.4 Appendix A fault reason
 * 0x79 (second-stage entry not present).
 */
import { userVaToPa } from "@iommu-sim/iopt";
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  isErrno,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { deviceOf } from "../src/devices";
import type { DeviceInfo, HwRoot } from "../src/drivers/driver";
import { driverOf } from "../src/drivers/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;

/** The DeviceInfo of device object `id` in the fixture's context. */
function devInfo(f: Fixture, id: number): DeviceInfo {
  const c = f.log.state.iommufd.contexts[f.fd.ctx]!;
  return deviceOf(f.log.state.iommufd, f.fd.ctx, c.objects[id]!)!;
}

/** MOCK_DOMAIN_FLAGS on `pt` → [rc, stdev, hwpt, idev]. */
function mockDomainFlags(f: Fixture, pt: number, flags: number): number[] {
  const [rc, arg] = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, pt, [[12, 4, flags]]);
  return [rc, view(arg).getUint32(16, true), view(arg).getUint32(20, true), view(arg).getUint32(24, true)];
}

/** IOMMU_HWPT_ALLOC for `devId` on `pt` → [rc, out_hwpt_id]. */
function hwptAlloc(f: Fixture, devId: number, pt: number, flags: number): [number, number] {
  const arg = bytes(48, [
    [0, 4, 48],
    [4, 4, flags],
    [8, 4, devId],
    [12, 4, pt],
  ]);
  return [f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg), view(arg).getUint32(16, true)];
}

/** IOMMU_IOAS_MAP at a fixed IOVA with `flags` (WRITEABLE 2 | READABLE 4). */
function mapWith(f: Fixture, iova: bigint, length: bigint, flags: number): number {
  const arg = bytes(40, [
    [0, 4, 40],
    [4, 4, 1 | flags],
    [8, 4, f.ioas],
    [16, 8, f.buffer],
    [24, 8, length],
    [32, 8, iova],
  ]);
  return f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg);
}

describe("the mock driver", () => {
  it("reports iommu_test_hw_info, dirty tracking unless MOCK_FLAGS_DEVICE_NO_DIRTY", () => {
    const f = new Fixture(1);
    const root = f.log.state as unknown as HwRoot;
    const info = driverOf("mock").hwInfo(root, devInfo(f, f.idev))!;
    expect(info.type).toBe(0xfeedbeef);
    expect([...info.data]).toEqual([0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    expect(info.capabilities).toBe(1n); // IOMMU_HW_CAP_DIRTY_TRACKING
    const [rc, , , idev] = mockDomainFlags(f, f.ioas, MOCK_FLAGS_DEVICE_NO_DIRTY);
    expect(rc).toBe(0);
    expect(driverOf("mock").hwInfo(f.log.state as unknown as HwRoot, devInfo(f, idev!))!.capabilities).toBe(
      0n,
    );
  });

  it("enforce_dirty: a NO_DIRTY device cannot attach a dirty-tracking HWPT (EINVAL) nor allocate one (EOPNOTSUPP)", () => {
    const f = new Fixture(1);
    const [rc, hwpt] = hwptAlloc(f, f.idev, f.ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
    expect(rc).toBe(0);
    expect(mockDomainFlags(f, hwpt, MOCK_FLAGS_DEVICE_NO_DIRTY)[0]).toBe(-22);
    const [rc2, , , noDirty] = mockDomainFlags(f, f.ioas, MOCK_FLAGS_DEVICE_NO_DIRTY);
    expect(rc2).toBe(0);
    expect(hwptAlloc(f, noDirty!, f.ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING)[0]).toBe(-95);
    expect(hwptAlloc(f, noDirty!, f.ioas, 0)[0]).toBe(0);
  });

  it("translates through the mock IO page table: the mapped page, not-present, permission, blocked", () => {
    const f = new Fixture(1);
    const mock = driverOf("mock");
    expect(mapWith(f, f.base, PAGE, 6)).toBe(0);
    expect(mapWith(f, f.base + PAGE, PAGE, 4)).toBe(0); // read-only
    const root = f.log.state as unknown as HwRoot;
    const dev = devInfo(f, f.idev);
    const pa = userVaToPa(f.log.state.mm, 100, f.buffer + 0x7f8n);
    if (isErrno(pa)) throw new Error(String(pa));
    expect(mock.translate(root, dev, 0, f.base + 0x7f8n, { write: true })).toEqual({
      kind: "ok",
      pa: BigInt(pa),
    });
    expect(mock.translate(root, dev, 0, f.base + PAGE + 8n, { write: false })).toMatchObject({ kind: "ok" });
    expect(mock.translate(root, dev, 0, f.base + PAGE + 8n, { write: true })).toMatchObject({
      kind: "fault",
      reason: "permission",
      addr: f.base + PAGE,
    });
    expect(mock.translate(root, dev, 0, f.base + 2n * PAGE + 0x900n, { write: false })).toMatchObject({
      kind: "fault",
      reason: "not-present",
      addr: f.base + 2n * PAGE + 0x800n, // 2 KiB IO pages
    });
    expect(mock.translate(root, dev, 5, f.base, { write: false })).toMatchObject({ reason: "blocked" });
  });

  it("allocates no table pages, answers page requests with nothing, and has no reserved regions", () => {
    const f = new Fixture(1);
    const root = f.log.state as unknown as HwRoot;
    const mock = driverOf("mock");
    const ref = { driver: "mock" as const, unit: 0, domain: 1 };
    expect(
      mock.mapTablePages(root, ref, [{ iova: 0n, length: PAGE, pfnRuns: [{ pfn: 1, count: 1 }], prot: 3 }]),
    ).toBe(0);
    const g = { source: { driver: "mock" as const, unit: 0, rid: 0 }, pasid: 0, grpid: 1, flags: 0 };
    expect(mock.pageResponse(root, g, 0)).toEqual([]);
    expect(mock.reservedRegions(devInfo(f, f.idev))).toEqual([]);
  });
});

describe("every driver implements the interface", () => {
  it("VT-d and SMMUv3 translate through their hardware: the mapped page, then a fault after unmap", () => {
    const f = new Fixture(0);
    const devs: DeviceInfo[] = [];
    for (const device of ["nic0", "gpu0"]) {
      const b = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device } });
      if (isErrno(b)) throw new Error(String(b));
      const devId = (b[0]!.data as { id: number }).id;
      const a = f.log.dispatch({
        type: "iommufd.device.attach",
        data: { ctx: f.fd.ctx, devId, ptId: f.ioas },
      });
      expect(isErrno(a)).toBe(false);
      devs.push(devInfo(f, devId));
    }
    const iova = 0x10_0000n;
    expect(f.map(2n * PAGE, iova)[0]).toBe(0);
    const pa = userVaToPa(f.log.state.mm, 100, f.buffer + PAGE + 0x10n);
    if (isErrno(pa)) throw new Error(String(pa));
    for (const dev of devs) {
      const t = driverOf(dev.driver).translate(
        f.log.state as unknown as HwRoot,
        dev,
        0,
        iova + PAGE + 0x10n,
        {
          write: true,
        },
      );
      expect(t).toEqual({ kind: "ok", pa: BigInt(pa) });
    }
    expect(f.unmap(iova, 2n * PAGE)).toBe(0);
    const root = f.log.state as unknown as HwRoot;
    const [vtd, smmu] = devs;
    expect(driverOf("vtd").translate(root, vtd!, 0, iova, { write: false })).toMatchObject({
      kind: "fault",
      reason: 0x79,
      addr: iova,
    });
    expect(driverOf("smmu").translate(root, smmu!, 0, iova, { write: false })).toMatchObject({
      kind: "fault",
      reason: 0x10, // F_TRANSLATION
    });
  });

  it("the reserved regions of each driver are Linux's", () => {
    const f = new Fixture(0);
    const dev = { name: "x", unit: 0, rid: 0, group: 0, pasidBits: 0, ats: false, pri: false } as const;
    expect(driverOf("vtd").reservedRegions({ ...dev, driver: "vtd" })).toEqual([
      { start: 0xfee0_0000n, last: 0xfeef_ffffn },
    ]);
    expect(driverOf("smmu").reservedRegions({ ...dev, driver: "smmu" })).toEqual([
      { start: 0x800_0000n, last: 0x80f_ffffn },
    ]);
    expect(f.log.state.iommufd.hwDomains).toEqual({});
  });
});
