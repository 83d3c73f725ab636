/**
 * Device files: the cdev path /dev/vfio/devices/vfioN (Linux
 * drivers/vfio/device_cdev.c, v6.17) — BIND_IOMMUFD, ATTACH/DETACH_IOMMUFD_PT
 * with and without PASID — and VFIO_DEVICE_GET_INFO of a vfio-pci device
 * (vfio_pci_core.c), with Linux's errno for each case. Object ids are the
 * lowest free (xa_alloc): device 1, IOAS 2, auto domain 3.
 */
import {
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOCTL,
  isErrno,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_IOCTL,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, view } from "./harness";
import { Machine } from "./vfio-harness";

const EBADF = -9;
const EFAULT = -14;
const EBUSY = -16;
const EINVAL = -22;
const ENOTTY = -25;
const E2BIG = -7;
const ENOENT = -2;
const EBADFD = -77;
const EADDRINUSE = -98;
/** VFIO_DEVICE_GET_REGION_INFO = _IO(';', 100 + 8). */
const VFIO_DEVICE_GET_REGION_INFO = 0x3b6c;

/** A fresh /dev/iommu context and an open (unbound) cdev of nic0 (platform index 1). */
function setup(): { m: Machine; ctx: number; file: number } {
  const m = new Machine();
  const ctx = m.openIommufd(false);
  const file = m.open("/dev/vfio/devices/vfio1");
  if (isErrno(file)) throw new Error(`${file}`);
  return { m, ctx, file };
}

describe("opening /dev/vfio/devices/vfioN", () => {
  it("N is the device's platform index; devices VFIO does not serve have no node", () => {
    const m = new Machine();
    expect(m.open("/dev/vfio/devices/vfio0")).toBe(1); // accel0
    expect(m.open("/dev/vfio/devices/vfio2")).toBe(2); // gpu0 (SMMU)
    expect(m.open("/dev/vfio/devices/vfio3")).toMatchObject({ name: "ENOENT" });
    expect(m.open("/dev/vfio/devices/vfio01")).toMatchObject({ name: "ENOENT" });
    expect(m.open("/dev/vfio/vfio")).toMatchObject({ name: "ENOENT" }); // iommufd's node
    expect(m.state.vfio.files[1]).toEqual({ id: 1, device: "accel0" });
  });

  it("before BIND_IOMMUFD every other ioctl is EINVAL", () => {
    const { m, file } = setup();
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, bytes(20, [[0, 4, 20]]))).toBe(EINVAL);
    expect(m.attach(file, 1)[0]).toBe(EINVAL);
    expect(m.detach(file)).toBe(EINVAL);
    expect(m.device(file, VFIO_DEVICE_GET_REGION_INFO)).toBe(EINVAL);
    expect(m.device(99, VFIO_IOCTL.VFIO_DEVICE_GET_INFO)).toBe(EBADF);
  });
});

describe("VFIO_DEVICE_BIND_IOMMUFD", () => {
  it("argsz, trailing bytes, flags and the fd are checked in Linux's order", () => {
    const { m, ctx, file } = setup();
    m.others.add(60);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, new Uint8Array(2))).toBe(EFAULT);
    expect(m.bind(file, ctx, 0, 15)[0]).toBe(EINVAL);
    // argsz 32: copy_struct_from_user wants bytes 24..31 zero
    const tail = bytes(32, [
      [0, 4, 32],
      [8, 4, ctx],
      [28, 4, 1],
    ]);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, tail)).toBe(E2BIG);
    expect(
      m.device(
        file,
        VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD,
        bytes(24, [
          [0, 4, 32],
          [8, 4, ctx],
        ]),
      ),
    ).toBe(EFAULT);
    expect(m.bind(file, ctx, 2)[0]).toBe(EINVAL); // unknown flag
    expect(m.bind(file, -1)[0]).toBe(EINVAL); // iommufd < 0
    expect(m.bind(file, 42)[0]).toBe(EBADF);
    expect(m.bind(file, 60)[0]).toBe(EBADFD);
    // VFIO_DEVICE_BIND_FLAG_TOKEN: the UUID is read (EFAULT), then refused — nic0 is no SR-IOV PF/VF
    expect(m.bind(file, ctx, 1, 24, 0x1000n)[0]).toBe(EFAULT);
    const uuid = m.mmap(4096n);
    expect(m.bind(file, ctx, 1, 24, uuid)[0]).toBe(EINVAL);
    expect(m.objects(ctx)).toEqual({});
    // argsz 16 (no token_uuid_ptr) and argsz 32 with a zero tail both bind
    expect(m.bind(file, ctx, 0, 16)).toEqual([0, 1]);
    expect(m.objects(ctx)).toEqual({ 1: "device:nic0" });
    expect(m.bind(file, ctx)[0]).toBe(EINVAL); // bound twice
  });

  it("one device binds through one file: a second cdev file of it is EINVAL; another context EINVAL too", () => {
    const { m, ctx, file } = setup();
    const other = m.open("/dev/vfio/devices/vfio1") as number;
    expect(m.bind(file, ctx)).toEqual([0, 1]);
    expect(m.bind(other, m.openIommufd(false))[0]).toBe(EINVAL);
    expect(m.bind(other, ctx)[0]).toBe(EINVAL);
    // closing the bound file unbinds: the other can bind now
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.objects(ctx)).toEqual({});
    expect(m.bind(other, ctx)).toEqual([0, 1]);
  });

  it("a group-path device file cannot bind (EINVAL) and has no ATTACH/DETACH_IOMMUFD_PT (ENOTTY)", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, ctx);
    const fd = m.deviceFd(2, "0000:03:00.0");
    expect(m.bind(fd, ctx)[0]).toBe(EINVAL);
    expect(m.attach(fd, 1)[0]).toBe(ENOTTY);
    expect(m.detach(fd)).toBe(ENOTTY);
  });

  it("IOMMU_DESTROY cannot take a bound device (EBUSY: its driver holds it)", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    expect(
      m.ioctl(
        ctx,
        IOMMU_IOCTL.IOMMU_DESTROY,
        bytes(8, [
          [0, 4, 8],
          [4, 4, 1],
        ]),
      ),
    ).toBe(EBUSY);
  });
});

describe("VFIO_DEVICE_ATTACH_IOMMUFD_PT / DETACH_IOMMUFD_PT", () => {
  it("attach to an IOAS answers the auto domain's id in pt_id; again → replace, same HWPT", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    const ioas = m.ioasAlloc(ctx);
    expect(ioas).toBe(2);
    expect(m.attach(file, 99)[0]).toBe(ENOENT);
    expect(m.attach(file, 1)[0]).toBe(EINVAL); // a device object is no page table
    expect(m.attach(file, ioas)).toEqual([0, 3]);
    expect(m.objects(ctx)).toEqual({ 1: "device:nic0", 2: "ioas", 3: "hwpt_paging" });
    expect(m.attach(file, ioas)).toEqual([0, 3]);
    expect(m.attach(file, 3)).toEqual([0, 3]); // naming the HWPT itself
    // an auto domain is allocated with flags 0 (iommufd_device_auto_get_domain): not PASID-compatible
    expect(m.state.iommufd.contexts[ctx]!.objects[3]!.flags ?? 0).toBe(0);
  });

  it("argsz and flags: EINVAL below 12, unknown flag, PASID with argsz < 16; EFAULT reading the pasid", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    const ioas = m.ioasAlloc(ctx);
    expect(m.attach(file, ioas, undefined, 11)[0]).toBe(EINVAL);
    expect(m.attach(file, ioas, 5, 15)[0]).toBe(EINVAL);
    const badFlag = bytes(16, [
      [0, 4, 16],
      [4, 4, 2],
      [8, 4, ioas],
    ]);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, badFlag)).toBe(EINVAL);
    const short = bytes(12, [
      [0, 4, 16],
      [4, 4, 1],
      [8, 4, ioas],
    ]);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, short)).toBe(EFAULT);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, short.subarray(0, 8))).toBe(EFAULT);
    expect(m.objects(ctx)).toEqual({ 1: "device:nic0", 2: "ioas" });
  });

  it("PASID attach and detach (VFIO_DEVICE_ATTACH_PASID); a PASID past the device's 20 bits is EINVAL", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    const ioas = m.ioasAlloc(ctx);
    expect(m.attach(file, ioas, 1 << 20)[0]).toBe(EINVAL);
    // an IOAS at a PASID means an auto domain, which is not PASID-compatible (iommufd_hwpt_pasid_compat)
    expect(m.attach(file, ioas, 5)[0]).toBe(EINVAL);
    const hwpt = m.hwptAlloc(ctx, 1, ioas, IOMMU_HWPT_ALLOC_PASID);
    expect(hwpt).toBe(3);
    expect(m.attach(file, hwpt, 5)).toEqual([0, 3]);
    expect(m.attach(file, hwpt)).toEqual([0, 3]); // the RID on the same PASID-compatible HWPT
    const idev = () => m.state.iommufd.contexts[ctx]!.objects[1]!;
    expect(idev().attachments).toEqual([
      { pasid: 0, hwpt: 3 },
      { pasid: 5, hwpt: 3 },
    ]);
    expect(m.detach(file, 5, 11)).toBe(EINVAL); // PASID needs argsz ≥ 12
    expect(m.detach(file, undefined, 7)).toBe(EINVAL);
    expect(m.detach(file, 5)).toBe(0);
    expect(idev().attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(m.detach(file, 5)).toBe(0); // nothing attached there: quietly 0
    expect(m.detach(file)).toBe(0);
    expect(m.objects(ctx)).toEqual({ 1: "device:nic0", 2: "ioas", 3: "hwpt_paging" }); // a user-allocated HWPT stays
  });

  it("the MSI window of a VT-d device is reserved in the IOAS it attaches to (EADDRINUSE when mapped)", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    const ioas = m.ioasAlloc(ctx);
    const buf = m.mmap(0x10_0000n);
    const map = bytes(40, [
      [0, 4, 40],
      [4, 4, 1 | 2 | 4], // FIXED_IOVA | WRITEABLE | READABLE
      [8, 4, ioas],
      [16, 8, buf],
      [24, 8, 0x10_0000n],
      [32, 8, 0xfee0_0000n],
    ]);
    expect(m.ioctl(ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map)).toBe(0);
    expect(m.attach(file, ioas)[0]).toBe(EADDRINUSE);
    expect(m.objects(ctx)).toEqual({ 1: "device:nic0", 2: "ioas" });
  });

  it("closing the file detaches and unbinds", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    m.attach(file, m.ioasAlloc(ctx), 3);
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.objects(ctx)).toEqual({ 2: "ioas" });
    expect(m.state.vfio.files).toEqual({});
  });
});

describe("VFIO_DEVICE_GET_INFO and the rest", () => {
  it("a PCI device: flags PCI, 9 regions, 5 IRQs, no capability; argsz < 16 EINVAL; min(argsz, 20) bytes written", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    const full = bytes(24, [[0, 4, 24]], 0xaa);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, full)).toBe(0);
    expect([...full.subarray(0, 20)]).toEqual([24, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    expect([...full.subarray(20)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(view(full).getUint32(4, true)).toBe(VFIO_DEVICE_FLAGS_PCI);
    const old = bytes(20, [[0, 4, 16]], 0xaa); // a program built before cap_offset
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, old)).toBe(0);
    expect([...old.subarray(16)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, bytes(16, [[0, 4, 15]]))).toBe(EINVAL);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, new Uint8Array(12))).toBe(EFAULT);
  });

  it("RESET is EINVAL (no reset method); region info and the like are ENOTTY", () => {
    const { m, ctx, file } = setup();
    m.bind(file, ctx);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_RESET)).toBe(EINVAL);
    expect(m.device(file, VFIO_DEVICE_GET_REGION_INFO)).toBe(ENOTTY);
    expect(m.device(file, VFIO_IOCTL.VFIO_DEVICE_FEATURE)).toBe(ENOTTY);
    expect(m.device(file, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA)).toBe(ENOTTY);
  });
});
