/**
 * VFIO group files on an iommufd container, with Linux's semantics
 * (drivers/vfio/group.c, drivers/iommu/iommufd/vfio_compat.c): one open per
 * group, GET_STATUS, SET/UNSET_CONTAINER creating the compat IOAS,
 * GET_DEVICE_FD binding and attaching the device on its first open,
 * viability, and release.
 *
 * The default platform: accel0 (RID 00:02.0, group 1), nic0 (RID 03:00.0,
 * group 2) behind VT-d unit 0; gpu0 (group 3) behind the SMMU.
 */
import { IOMMU_IOCTL, IOMMU_VFIO_IOAS_SET, isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, view } from "./harness";
import { cString, Machine, TWO_DEVICE_GROUP } from "./vfio-harness";

const EBADF = -9;
const EPERM = -1;
const ENODEV = -19;
const EINVAL = -22;
const EFAULT = -14;
const EBADFD = -77;
const ENOTTY = -25;
const VIABLE = 1;
const CONTAINER_SET = 2;

describe("opening /dev/vfio/$GROUP", () => {
  it("only groups with VFIO devices exist; a group opens once (EBUSY) until released", () => {
    const m = new Machine();
    expect(m.open("/dev/vfio/9")).toMatchObject({ name: "ENOENT" });
    expect(m.open("/dev/vfio/02")).toMatchObject({ name: "ENOENT" }); // node names have no leading zeros
    expect(m.open("/dev/vfio/2")).toBe(2);
    expect(m.open("/dev/vfio/2")).toMatchObject({ name: "EBUSY" });
    expect(m.open("/dev/vfio/1")).toBe(1); // another group is independent
    m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } });
    expect(m.open("/dev/vfio/2")).toBe(2);
  });

  it("ioctls on a group that is not open are EBADF; unknown requests ENOTTY", () => {
    const m = new Machine();
    expect(m.status(2)[0]).toBe(EBADF);
    m.open("/dev/vfio/2");
    expect(m.group(2, VFIO_IOCTL.VFIO_GET_API_VERSION)).toBe(ENOTTY);
    expect(m.group(2, VFIO_IOCTL.VFIO_DEVICE_GET_INFO)).toBe(ENOTTY);
  });
});

describe("VFIO_GROUP_GET_STATUS", () => {
  it("VIABLE before a container, CONTAINER_SET | VIABLE after; argsz < 8 is EINVAL; a short buffer EFAULT", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    expect(m.status(2)).toEqual([0, VIABLE]);
    const ctx = m.openIommufd();
    expect(m.setContainer(2, ctx)).toBe(0);
    expect(m.status(2)).toEqual([0, CONTAINER_SET | VIABLE]);
    const small = bytes(8, [[0, 4, 7]], 0xaa);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, small)).toBe(EINVAL);
    expect(view(small).getUint32(4, true)).toBe(0xaaaa_aaaa); // nothing written
    // argsz larger than the struct: accepted, only the 8 bytes are written
    const big = bytes(12, [[0, 4, 12]], 0xaa);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, big)).toBe(0);
    expect([...big]).toEqual([12, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa]);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, new Uint8Array(4))).toBe(EFAULT);
  });
});

describe("VFIO_GROUP_SET_CONTAINER / UNSET_CONTAINER", () => {
  it("checks in Linux's order: EFAULT, EBADF, EINVAL (set already), EBADFD (not an iommufd)", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.others.add(50);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, new Uint8Array(2))).toBe(EFAULT);
    expect(m.setContainer(2, 42)).toBe(EBADF);
    expect(m.setContainer(2, -1)).toBe(EBADF);
    expect(m.setContainer(2, 50)).toBe(EBADFD);
    expect(m.setContainer(2, ctx)).toBe(0);
    expect(m.setContainer(2, ctx)).toBe(EINVAL);
    expect(m.setContainer(2, 42)).toBe(EBADF); // fdget comes first
    expect(m.setContainer(2, 50)).toBe(EINVAL); // has_iommu before the file's kind
  });

  it("creates the compat IOAS (object 1, IOMMU_VFIO_IOAS GET answers it) — or keeps the one set", () => {
    const m = new Machine();
    const a = m.openIommufd();
    expect(m.compatIoas(a)[0]).toBe(ENODEV);
    m.open("/dev/vfio/2");
    expect(m.setContainer(2, a)).toBe(0);
    expect(m.compatIoas(a)).toEqual([0, 1]);
    expect(m.objects(a)).toEqual({ 1: "ioas" });
    // A second group on the same container shares it: the IOAS allocated meanwhile is dropped again.
    m.open("/dev/vfio/1");
    expect(m.setContainer(1, a)).toBe(0);
    expect(m.objects(a)).toEqual({ 1: "ioas" });
    expect(m.ioasAlloc(a)).toBe(2); // id 2 was never taken
    // A context whose compat IOAS was set by hand keeps it.
    const b = m.openIommufd(false);
    const ioas = m.ioasAlloc(b);
    expect(
      m.ioctl(
        b,
        IOMMU_IOCTL.IOMMU_VFIO_IOAS,
        bytes(12, [
          [0, 4, 12],
          [4, 4, ioas],
          [8, 2, IOMMU_VFIO_IOAS_SET],
        ]),
      ),
    ).toBe(0);
    m.open("/dev/vfio/3");
    expect(m.setContainer(3, b)).toBe(0);
    expect(m.objects(b)).toEqual({ 1: "ioas" });
  });

  it("UNSET without a container is EINVAL; after it the container ioctls lose the group, the IOAS stays", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(EINVAL);
    const ctx = m.openIommufd();
    expect(m.setContainer(2, ctx)).toBe(0);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(m.status(2)).toEqual([0, VIABLE]);
    expect(m.compatIoas(ctx)).toEqual([0, 1]); // the compat IOAS is an ordinary object of the context
    expect(m.setContainer(2, ctx)).toBe(0); // and can be set again
  });

  it("closing the container's context lets the group go", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(1);
    m.log.dispatch({ type: "iommufd.close", data: { ctx } });
    expect(m.status(2)).toEqual([0, VIABLE]);
    expect(m.state.vfio.files[1]).toEqual({ id: 1, device: "nic0", group: 2 });
  });
});

describe("VFIO_GROUP_GET_DEVICE_FD", () => {
  it("binds the device and attaches it to the compat IOAS on its first open; later opens share it", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(EINVAL); // no container
    m.setContainer(2, ctx);
    expect(m.deviceFd(2, "nic0")).toBe(ENODEV); // dev_name() is the PCI name
    expect(m.deviceFd(2, "0000:00:02.0")).toBe(ENODEV); // accel0 is in group 1
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(1);
    // IOAS 1 (compat), device 2, its auto domain 3 on the IOAS
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    expect(m.state.iommufd.contexts[ctx]!.objects[2]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    // trailing spaces match too (vfio_pci_core_match); options need SR-IOV
    expect(m.deviceFd(2, "0000:03:00.0  ")).toBe(2);
    expect(m.deviceFd(2, "0000:03:00.0 vf_token=2ab74924-c335-45f4-9b16-8569e5b08258")).toBe(EINVAL);
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
  });

  it("reads the name as strndup_user(PAGE_SIZE): EFAULT before a NUL, EINVAL past 4096 bytes", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    m.setContainer(2, m.openIommufd());
    const unterminated = cString("0000:03:00.0").subarray(0, 12);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, unterminated)).toBe(EFAULT);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, new Uint8Array(4097).fill(0x41))).toBe(EINVAL);
    const longest = new Uint8Array(4096).fill(0x41);
    longest[4095] = 0;
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, longest)).toBe(ENODEV);
  });

  it("a device file's last close unbinds the device; its auto domain goes with it", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    const a = m.deviceFd(2, "0000:03:00.0");
    const b = m.deviceFd(2, "0000:03:00.0");
    m.env.dispatch({ type: "vfio.device.close", data: { file: a } });
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    m.env.dispatch({ type: "vfio.device.close", data: { file: b } });
    expect(m.objects(ctx)).toEqual({ 1: "ioas" });
  });

  it("the group file lives while device files hold it: reopening is EBUSY until the last closes", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    const fd = m.deviceFd(2, "0000:03:00.0");
    m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } });
    expect(m.status(2)[0]).toBe(EBADF); // the program's fd is gone
    expect(m.open("/dev/vfio/2")).toMatchObject({ name: "EBUSY" });
    expect(m.device(fd, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, bytes(20, [[0, 4, 20]]))).toBe(0);
    m.env.dispatch({ type: "vfio.device.close", data: { file: fd } });
    expect(m.open("/dev/vfio/2")).toBe(2);
    expect(m.status(2)).toEqual([0, VIABLE]); // its container went with the old file
  });
});

describe("viability: every device of a group must be usable by one owner", () => {
  it("a device bound to another iommufd makes the group not viable and GET_DEVICE_FD EPERM", () => {
    const m = new Machine(TWO_DEVICE_GROUP);
    const a = m.openIommufd();
    const b = m.openIommufd();
    m.open("/dev/vfio/7");
    expect(m.setContainer(7, a)).toBe(0);
    expect(m.deviceFd(7, "0000:01:00.0")).toBe(1); // nica, bound to a
    expect(m.group(7, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    // nica stays bound to a (Linux lets an iommufd container go with devices open)
    expect(m.status(7)).toEqual([0, 0]);
    expect(m.setContainer(7, b)).toBe(0);
    expect(m.status(7)).toEqual([0, CONTAINER_SET | VIABLE]);
    expect(m.deviceFd(7, "0000:01:00.1")).toBe(EPERM); // nicb: the group's DMA is owned by a
    expect(m.objects(b)).toEqual({ 1: "ioas" });
    // the other group is unaffected
    m.open("/dev/vfio/8");
    expect(m.setContainer(8, b)).toBe(0);
    expect(m.deviceFd(8, "0000:02:00.0")).toBe(2);
  });

  it("GET_DEVICE_FD needs the compat IOAS: destroyed by hand → ENODEV, nothing bound", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    expect(
      m.ioctl(
        ctx,
        IOMMU_IOCTL.IOMMU_DESTROY,
        bytes(8, [
          [0, 4, 8],
          [4, 4, 1],
        ]),
      ),
    ).toBe(0);
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(ENODEV);
    expect(m.objects(ctx)).toEqual({});
    expect(isErrno(m.open("/dev/vfio/devices/vfio1"))).toBe(false);
  });
});

describe("group and cdev paths exclude each other", () => {
  it("BIND_IOMMUFD is EBUSY while the group is open; a bound cdev makes the group EBUSY to open", () => {
    const m = new Machine();
    const ctx = m.openIommufd(false);
    m.open("/dev/vfio/2");
    const file = m.open("/dev/vfio/devices/vfio1") as number; // nic0: opening is fine
    expect(m.bind(file, ctx)[0]).toBe(-16);
    m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } });
    expect(m.bind(file, ctx)).toEqual([0, 1]);
    expect(m.open("/dev/vfio/2")).toMatchObject({ name: "EBUSY" });
    expect(m.open("/dev/vfio/1")).toBe(1); // accel0's group is another group
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.open("/dev/vfio/2")).toBe(2);
  });
});

describe("several groups in one container", () => {
  it("devices on one VT-d unit share the compat IOAS's auto domain; an SMMU device gets its own", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    for (const g of [1, 2, 3]) {
      expect(m.open(`/dev/vfio/${g}`)).toBe(g);
      expect(m.setContainer(g, ctx)).toBe(0);
    }
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(1); // nic0
    expect(m.deviceFd(1, "0000:00:02.0")).toBe(2); // accel0: same unit, same PASID-capable auto domain
    expect(m.deviceFd(3, "0000:00:01.0")).toBe(3); // gpu0 behind the SMMU
    expect(m.objects(ctx)).toEqual({
      1: "ioas",
      2: "device:nic0",
      3: "hwpt_paging",
      4: "device:accel0",
      5: "device:gpu0",
      6: "hwpt_paging",
    });
    const c = m.state.iommufd.contexts[ctx]!;
    expect(c.objects[4]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(c.objects[5]!.attachments).toEqual([{ pasid: 0, hwpt: 6 }]);
    // GET_INFO's IOVA ranges: the holes left by the x86 MSI window (VT-d devices) and the SMMUv3
    // driver's software MSI window 0x8000000 + 1 MiB (arm-smmu-v3.c MSI_IOVA_BASE/LENGTH), within the
    // smaller aperture (SMMU stage 1: 48 bits).
    m.ioctlInt(ctx, VFIO_IOCTL.VFIO_SET_IOMMU, 3);
    const info = bytes(256, [[0, 4, 256]]);
    expect(m.ioctl(ctx, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, info)).toBe(0);
    const v = view(info);
    const at = v.getUint32(16, true); // the first capability: DMA_AVAIL, then IOVA_RANGE
    const range = v.getUint32(at + 4, true);
    const n = v.getUint32(range + 8, true);
    const ranges = Array.from({ length: n }, (_, i) => [
      v.getBigUint64(range + 16 + 16 * i, true),
      v.getBigUint64(range + 24 + 16 * i, true),
    ]);
    expect(ranges).toEqual([
      [0n, 0x7ff_ffffn],
      [0x810_0000n, 0xfedf_ffffn],
      [0xfef0_0000n, (1n << 48n) - 1n],
    ]);
  });
});
