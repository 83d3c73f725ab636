/**
 * The selftest mock driver's vIOMMU on the byte interface: the semantics
 * of Linux's FIXTURE(iommufd_viommu) tests viommu_negative_tests,
 * viommu_alloc_with_data, viommu_alloc_nested_iopf, vdevice_alloc (its
 * vEVENTQ part is in veventq.test.ts) and vdevice_cache
 * (tools/testing/selftests/iommu/iommufd.c), plus the checks of
 * drivers/iommu/iommufd/viommu.c and hw_pagetable.c those do not reach.
 * Golden values: viommu-support.ts (iommufd.h, iommufd_test.h, errno.h).
 */
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes } from "./harness";
import { hwptSelftest } from "./nested-support";
import {
  ALLOC_PASID,
  DATA_SELFTEST,
  DEV_CACHE_DEFAULT,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  FAULT_ID_VALID,
  IOTLB_DEFAULT,
  NEST_PARENT,
  VIOMMU_INV_SELFTEST,
  VIOMMU_INV_SELFTEST_INVALID,
  VIOMMU_TYPE_DEFAULT,
  VIOMMU_TYPE_SELFTEST,
  ViommuFixture,
  viommuInv,
} from "./viommu-support";

/** The iommufd_viommu fixture's mock_viommu variant: + a vIOMMU and a nested HWPT on it. */
function withViommu() {
  const f = new ViommuFixture();
  const [rc, viommu] = f.viommuAlloc(f.idev, f.parent);
  expect(rc).toBe(0);
  const [rc2, nested] = f.hwptAlloc(f.idev, viommu, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT));
  expect(rc2).toBe(0);
  return { f, viommu, nested };
}

/** IOMMU_FAULT_QUEUE_ALLOC {size, flags, out_fault_id, out_fault_fd} → out_fault_id. */
function faultAlloc(f: ViommuFixture): number {
  const arg = bytes(16, [[0, 4, 16]]);
  expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, arg)).toBe(0);
  return new DataView(arg.buffer).getUint32(8, true);
}

describe("IOMMU_VIOMMU_ALLOC for the mock", () => {
  it("answers viommu_negative_tests with Linux's errnos, and pins the parent HWPT", () => {
    const { f, viommu } = withViommu();
    expect(f.viommuAlloc(f.idev, 0)[0]).toBe(ENOENT); // invalid hwpt (hwpt_id = 0)
    const [rc, plain] = f.hwptAlloc(f.idev, f.ioas, 0);
    expect(rc).toBe(0);
    expect(f.viommuAlloc(f.idev, plain)[0]).toBe(EINVAL); // not a nesting parent
    expect(f.destroy(plain)).toBe(0);
    expect(f.viommuAlloc(f.idev, f.parent, 0xdead)[0]).toBe(EOPNOTSUPP); // unsupported type
    expect(f.destroy(f.parent)).toBe(EBUSY);
    expect(f.destroy(viommu)).toBe(EBUSY); // its nested HWPT uses it
  });

  it("checks flags and type first, then the device, the type, the HWPT (viommu.c order)", () => {
    const f = new ViommuFixture();
    expect(f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_DEFAULT, { flags: 1 })[0]).toBe(EOPNOTSUPP);
    expect(f.viommuAlloc(999, 999, 0)[0]).toBe(EOPNOTSUPP); // IOMMU_VIOMMU_TYPE_DEFAULT before the lookups
    expect(f.viommuAlloc(f.ioas, 999)[0]).toBe(ENOENT); // dev_id is an IOAS
    expect(f.viommuAlloc(f.idev, 999, 1)[0]).toBe(EOPNOTSUPP); // ARM_SMMUV3 on the mock, before the HWPT
    expect(f.viommuAlloc(f.idev, f.ioas)[0]).toBe(ENOENT); // an IOAS is not a paging HWPT
    expect(f.viommuAlloc(f.idev, f.hwpt)[0]).toBe(EINVAL); // the auto domain is no nesting parent
    expect(f.objects()).toEqual({
      1: "ioas",
      2: "selftest",
      3: "device",
      4: "hwpt_paging",
      5: "hwpt_paging",
    });
  });

  it("takes a non-zero __reserved (iommufd_viommu_alloc_ioctl never checks it)", () => {
    const f = new ViommuFixture();
    const [rc, id] = f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { reserved: 0xffffffff });
    expect(rc).toBe(0);
    expect(f.objects()[id]).toBe("viommu");
  });

  it("is destroyed before its parent HWPT, which then goes too", () => {
    const f = new ViommuFixture();
    const [rc, viommu] = f.viommuAlloc(f.idev, f.parent);
    expect(rc).toBe(0);
    expect(f.destroy(f.parent)).toBe(EBUSY);
    expect(f.destroy(viommu)).toBe(0);
    expect(f.destroy(viommu)).toBe(ENOENT);
    expect(f.destroy(f.parent)).toBe(0);
  });

  it("refuses a parent HWPT of another IOMMU (EINVAL; a model check, Linux's mock would misuse it)", () => {
    const f = new ViommuFixture();
    const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "accel0" } });
    if (!Array.isArray(r)) throw new Error("bind accel0");
    const accel = (r[0] as { data: { id: number } }).data.id;
    const [rc, vtdParent] = f.hwptAlloc(accel, f.ioas, NEST_PARENT);
    expect(rc).toBe(0);
    expect(f.viommuAlloc(f.idev, vtdParent)[0]).toBe(EINVAL);
  });

  it("a VT-d device has no vIOMMU (EOPNOTSUPP, as a driver without viommu_init)", () => {
    const f = new ViommuFixture();
    const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "accel0" } });
    if (!Array.isArray(r)) throw new Error("bind accel0");
    const accel = (r[0] as { data: { id: number } }).data.id;
    expect(f.viommuAlloc(accel, f.parent)[0]).toBe(EOPNOTSUPP);
  });
});

describe("IOMMU_VIOMMU_ALLOC with iommu_viommu_selftest data (viommu_alloc_with_data)", () => {
  it("loops in_data back to out_data", () => {
    const f = new ViommuFixture();
    const [rc] = f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { data: bytes(8, [[0, 4, 0xbeef]]) });
    expect(rc).toBe(0);
    const user = f.fd.user.read(f.scratch, 8) as Uint8Array;
    const v = new DataView(user.buffer, user.byteOffset, 8);
    expect([v.getUint32(0, true), v.getUint32(4, true)]).toEqual([0xbeef, 0xbeef]);
  });

  it("refuses data of another length (EINVAL) or unreadable (EFAULT), leaving nothing", () => {
    const f = new ViommuFixture();
    const before = f.objects();
    expect(f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { data: new Uint8Array(7) })[0]).toBe(
      EINVAL,
    );
    expect(f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { data: new Uint8Array(9) })[0]).toBe(
      EINVAL,
    );
    expect(f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { dataLen: 8, dataUptr: 0n })[0]).toBe(
      EFAULT,
    );
    expect(f.objects()).toEqual(before);
  });

  it("fails with EFAULT and leaves no vIOMMU when the answer cannot be written", () => {
    const f = new ViommuFixture();
    const m = f.log.dispatch({ type: "mm.mmap", data: { pid: 100, length: 4096n, prot: 1, shared: false } });
    if (!Array.isArray(m)) throw new Error("mmap");
    const ro = (m[0] as { data: { addr: bigint } }).data.addr;
    const before = f.objects();
    expect(f.viommuAlloc(f.idev, f.parent, VIOMMU_TYPE_SELFTEST, { dataLen: 8, dataUptr: ro })[0]).toBe(
      EFAULT,
    );
    expect(f.objects()).toEqual(before);
  });
});

describe("IOMMU_HWPT_ALLOC on a vIOMMU", () => {
  it("allocates a mock nested HWPT that uses the vIOMMU, starting at the given IOTLB value", () => {
    const { f, viommu, nested } = withViommu();
    const c = f.log.state.iommufd.contexts[f.fd.ctx]!;
    expect(c.objects[nested]!.type).toBe("hwpt_nested");
    expect(c.objects[nested]!.refs).toEqual([viommu]);
    expect(f.checkIotlbAll(nested, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
    expect(f.destroy(viommu)).toBe(EBUSY);
    expect(f.destroy(nested)).toBe(0);
    expect(f.destroy(viommu)).toBe(0);
  });

  it("answers the driver's and the core's refusals", () => {
    const { f, viommu } = withViommu();
    const data = hwptSelftest(IOTLB_DEFAULT);
    expect(f.hwptAlloc(f.idev, viommu, 0, DATA_SELFTEST + 1, data)[0]).toBe(EOPNOTSUPP); // data type
    expect(f.hwptAlloc(f.idev, viommu, 0, DATA_SELFTEST, data, 3)[0]).toBe(EINVAL); // < offsetofend(iotlb)
    expect(f.hwptAlloc(f.idev, viommu, 0, DATA_SELFTEST, null, 4)[0]).toBe(EFAULT);
    expect(f.hwptAlloc(f.idev, viommu, NEST_PARENT, DATA_SELFTEST, data)[0]).toBe(EOPNOTSUPP);
    expect(f.hwptAlloc(f.idev, viommu, 0, 0, null, 0)[0]).toBe(EOPNOTSUPP); // no driver data
    const [rc, pasid] = f.hwptAlloc(f.idev, viommu, ALLOC_PASID, DATA_SELFTEST, data);
    expect(rc).toBe(0);
    expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[pasid]!.flags).toBe(ALLOC_PASID);
  });

  it("refuses a device behind another IOMMU than the vIOMMU's (EINVAL)", () => {
    const { f, viommu } = withViommu();
    const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "accel0" } });
    if (!Array.isArray(r)) throw new Error("bind accel0");
    const accel = (r[0] as { data: { id: number } }).data.id;
    expect(f.hwptAlloc(accel, viommu, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT))[0]).toBe(EINVAL);
  });

  it("takes a fault queue (viommu_alloc_nested_iopf) and needs a vDEVICE before a RID attach", () => {
    const { f, viommu } = withViommu();
    const fault = faultAlloc(f);
    const data = hwptSelftest(IOTLB_DEFAULT);
    const iopf = (flags: number, faultId: number) =>
      f.hwptAlloc(f.idev, viommu, flags, DATA_SELFTEST, data, 4, faultId);
    expect(iopf(FAULT_ID_VALID, 0xffffffff)[0]).toBe(ENOENT);
    expect(iopf(FAULT_ID_VALID | (1 << 31), fault)[0]).toBe(EOPNOTSUPP);
    const [rc, iopfHwpt] = iopf(FAULT_ID_VALID, fault);
    expect(rc).toBe(0);
    expect(f.mockReplace(f.stdev, iopfHwpt)).toBe(ENOENT); // must allocate a vDEVICE first
    expect(f.vdeviceAlloc(viommu, f.idev, 0x99n)[0]).toBe(0);
    expect(f.mockReplace(f.stdev, iopfHwpt)).toBe(0);
    expect(f.destroy(iopfHwpt)).toBe(EBUSY);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(iopfHwpt)).toBe(0);
  });

  it("keeps the pre-vIOMMU form (pt_id = the NEST_PARENT HWPT) working beside it", () => {
    const { f } = withViommu();
    const [rc, old] = f.hwptAlloc(f.idev, f.parent, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT));
    expect(rc).toBe(0);
    expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[old]!.refs).toEqual([f.parent]);
    expect(f.mockReplace(f.stdev, old)).toBe(0); // no vDEVICE needed without a vIOMMU
  });
});

describe("IOMMU_VDEVICE_ALLOC for the mock (vdevice_alloc)", () => {
  it("one vDEVICE per device, one device per virtual id; freed ids can be taken again", () => {
    const { f, viommu, nested } = withViommu();
    expect(f.mockReplace(f.stdev, nested)).toBe(ENOENT);
    const [rc, vdev] = f.vdeviceAlloc(viommu, f.idev, 0x99n);
    expect(rc).toBe(0);
    expect(f.mockReplace(f.stdev, nested)).toBe(0);
    expect(f.vdeviceAlloc(viommu, f.idev, 0x99n)[0]).toBe(EEXIST);
    expect(f.vdeviceAlloc(viommu, f.idev, 0x88n)[0]).toBe(EEXIST); // the device has one
    const [rc2, [, , idev2]] = f.mockDomain(f.ioas);
    expect(rc2).toBe(0);
    expect(f.vdeviceAlloc(viommu, idev2, 0x99n)[0]).toBe(EEXIST); // the virtual id is taken
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(viommu)).toBe(EBUSY);
    expect(f.destroy(vdev)).toBe(0);
    expect(f.vdeviceAlloc(viommu, f.idev, 0x88n)[0]).toBe(0);
  });

  it("looks up the vIOMMU, then the device (ENOENT), then their IOMMUs (EINVAL)", () => {
    const { f, viommu } = withViommu();
    expect(f.vdeviceAlloc(f.ioas, f.idev, 0x99n)[0]).toBe(ENOENT);
    expect(f.vdeviceAlloc(viommu, f.ioas, 0x99n)[0]).toBe(ENOENT);
    const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "accel0" } });
    if (!Array.isArray(r)) throw new Error("bind accel0");
    const accel = (r[0] as { data: { id: number } }).data.id;
    expect(f.vdeviceAlloc(viommu, accel, 0x99n)[0]).toBe(EINVAL);
  });

  it("goes with its device, leaving its id a tombstone until close (iommufd_device_remove_vdev)", () => {
    const { f, viommu, nested } = withViommu();
    const [rc, vdev] = f.vdeviceAlloc(viommu, f.idev, 0x99n);
    expect(rc).toBe(0);
    expect(f.destroy(f.stdev)).toBe(0);
    expect(f.objects()[vdev]).toBeUndefined();
    expect(f.objects()[f.idev]).toBeUndefined();
    expect(f.destroy(vdev)).toBe(ENOENT);
    expect(f.destroy(viommu)).toBe(EBUSY); // the nested HWPT still uses it
    expect(f.destroy(nested)).toBe(0);
    expect(f.destroy(viommu)).toBe(0); // the vDEVICE's users reference went with it
    // Ids 2 (selftest), 3 (device), 4 (its auto domain), 6 (vIOMMU), 7 (nested) are free again;
    // 8 (the vDEVICE) is not.
    expect([viommu, nested, vdev]).toEqual([6, 7, 8]);
    const fresh = Array.from({ length: 6 }, () => f.ioasAlloc());
    expect(fresh).toEqual([2, 3, 4, 6, 7, 9]);
  });
});

describe("IOMMU_HWPT_INVALIDATE on a vIOMMU (vdevice_cache)", () => {
  function cache() {
    const { f, viommu } = withViommu();
    expect(f.vdeviceAlloc(viommu, f.idev, 0x99n)[0]).toBe(0);
    expect(f.checkDevCacheAll(f.idev, DEV_CACHE_DEFAULT)).toEqual([0, 0, 0, 0]);
    return { f, viommu };
  }
  const D = DEV_CACHE_DEFAULT;

  it("answers the negative cases with entry_num 0 and the cache untouched", () => {
    const { f, viommu } = cache();
    const zero = viommuInv([0, 0, 0], [0, 0, 0]);
    expect(f.invalidate(viommu, zero, VIOMMU_INV_SELFTEST, 12, 0)).toEqual([0, 0]); // checks the type
    expect(f.invalidate(viommu, zero, VIOMMU_INV_SELFTEST_INVALID, 12, 1)).toEqual([EINVAL, 0]);
    expect(f.invalidate(viommu, zero, VIOMMU_INV_SELFTEST, 13, 1)).toEqual([EINVAL, 0]); // vdev_id 0: none
    expect(f.invalidate(viommu, zero, VIOMMU_INV_SELFTEST, 1, 1)).toEqual([EINVAL, 0]);
    const bad = viommuInv([0xffffffff, 0x99, 0]);
    expect(f.invalidate(viommu, bad, VIOMMU_INV_SELFTEST, 12, 1)).toEqual([EOPNOTSUPP, 0]);
    expect(f.invalidate(viommu, null, VIOMMU_INV_SELFTEST, 12, 1)).toEqual([EINVAL, 0]); // NULL data_uptr
    expect(f.invalidate(viommu, viommuInv([0, 0x99, 0]), VIOMMU_INV_SELFTEST, 0, 1)).toEqual([EINVAL, 0]);
    expect(f.invalidate(viommu, viommuInv([0, 0x99, 4]), VIOMMU_INV_SELFTEST, 12, 1)).toEqual([EINVAL, 0]);
    expect(f.invalidate(viommu, viommuInv([0, 0x9, 0]), VIOMMU_INV_SELFTEST, 12, 1)).toEqual([EINVAL, 0]);
    expect(f.checkDevCacheAll(f.idev, D)).toEqual([0, 0, 0, 0]);
  });

  it("clears entries in order, stopping at the first bad one, and FLAG_ALL clears all", () => {
    const { f, viommu } = cache();
    const two = (a: [number, number, number], b: [number, number, number]) =>
      f.invalidate(viommu, viommuInv(a, b), VIOMMU_INV_SELFTEST, 12, 2);
    expect(two([0, 0x99, 0], [0xffffffff, 0x99, 1])).toEqual([EOPNOTSUPP, 1]);
    expect([0, 1, 2, 3].map((i) => f.checkDevCache(f.idev, i, i === 0 ? 0 : D))).toEqual([0, 0, 0, 0]);
    expect(two([0, 0x99, 0], [0, 0x99, 4])).toEqual([EINVAL, 1]);
    expect([0, 1, 2, 3].map((i) => f.checkDevCache(f.idev, i, i === 0 ? 0 : D))).toEqual([0, 0, 0, 0]);
    expect(f.invalidate(viommu, viommuInv([0, 0x99, 1]), VIOMMU_INV_SELFTEST, 12, 1)).toEqual([0, 1]);
    expect([0, 1, 2, 3].map((i) => f.checkDevCache(f.idev, i, i < 2 ? 0 : D))).toEqual([0, 0, 0, 0]);
    expect(two([0, 0x99, 2], [0, 0x99, 3])).toEqual([0, 2]);
    expect(f.checkDevCacheAll(f.idev, 0)).toEqual([0, 0, 0, 0]);
    expect(f.invalidate(viommu, viommuInv([1, 0x99, 0]), VIOMMU_INV_SELFTEST, 12, 1)).toEqual([0, 1]);
    expect(f.checkDevCacheAll(f.idev, 0)).toEqual([0, 0, 0, 0]);
  });

  it("FLAG_ALL clears every entry of a fresh cache, whatever cache_id says", () => {
    const { f, viommu } = cache();
    expect(f.invalidate(viommu, viommuInv([1, 0x99, 2]), VIOMMU_INV_SELFTEST, 12, 1)).toEqual([0, 1]);
    expect(f.checkDevCacheAll(f.idev, 0)).toEqual([0, 0, 0, 0]);
  });

  it("copies the whole array before doing anything: a non-zero tail is E2BIG, with entry_num 0", () => {
    const { f, viommu } = cache();
    const long = bytes(32, [
      [4, 4, 0x99],
      [16 + 4, 4, 0x99],
      [16 + 12, 4, 1], // the second entry's tail
    ]);
    expect(f.invalidate(viommu, long, VIOMMU_INV_SELFTEST, 16, 2)).toEqual([-7, 0]); // E2BIG
    expect(f.checkDevCacheAll(f.idev, D)).toEqual([0, 0, 0, 0]);
  });
});
