/**
 * VFIO group files on an iommufd container (drivers/vfio/group.c,
 * drivers/iommu/iommufd/vfio_compat.c) with the semantics: one open
 * per group, GET_STATUS, SET_CONTAINER creating the compat IOAS and binding
 * + attaching every device of the group to it (EPERM for a group that is
 * not viable), GET_DEVICE_FD only making a file, UNSET_CONTAINER (EBUSY
 * with device files open) and release unbinding the group.
 *
 * The default platform: accel0 (RID 00:02.0, group 1), nic0 (RID 03:00.0,
 * group 2) behind VT-d unit 0; gpu0 (group 3) behind the SMMU.
 */
import { translate, type VtdRoot } from "@iommu-sim/hw-vtd";
import { userVaToPa } from "@iommu-sim/iopt";
import { IOMMU_IOCTL, IOMMU_VFIO_IOAS_SET, isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, view } from "./harness";
import { cString, Machine, PID, TWO_DEVICE_GROUP } from "./vfio-harness";

const EBADF = -9;
const EBUSY = -16;
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
    // nic0 bound (device 2) and attached to the compat IOAS through its auto domain (3)
    expect(m.objects(a)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    // A second group on the same container shares it: the IOAS allocated meanwhile is dropped
    // again (its id is not taken); accel0, on the same VT-d unit, shares the auto domain.
    m.open("/dev/vfio/1");
    expect(m.setContainer(1, a)).toBe(0);
    expect(m.objects(a)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging", 4: "device:accel0" });
    expect(m.state.iommufd.contexts[a]!.objects[4]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(m.ioasAlloc(a)).toBe(5);
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
    expect(m.objects(b)).toEqual({ 1: "ioas", 2: "device:gpu0", 3: "hwpt_paging" });
  });

  it("UNSET without a container is EINVAL; UNSET unbinds the group's devices, the IOAS stays", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(EINVAL);
    const ctx = m.openIommufd();
    expect(m.setContainer(2, ctx)).toBe(0);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(m.status(2)).toEqual([0, VIABLE]);
    // nic0 detached and unbound; its auto domain had no other user and went too
    expect(m.objects(ctx)).toEqual({ 1: "ioas" });
    expect(m.compatIoas(ctx)).toEqual([0, 1]); // the compat IOAS is an ordinary object of the context
    expect(m.setContainer(2, ctx)).toBe(0); // and can be set again: the lowest free ids are reused
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
  });

  it("UNSET is EBUSY while a device file of the group is open (legacy container_users != 1)", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    const fd = m.deviceFd(2, "0000:03:00.0");
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(EBUSY);
    expect(m.status(2)).toEqual([0, CONTAINER_SET | VIABLE]);
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    m.env.dispatch({ type: "vfio.device.close", data: { file: fd } });
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(m.objects(ctx)).toEqual({ 1: "ioas" });
  });

  it("binds and attaches every device of a multi-device group; both RIDs translate through one domain", () => {
    const m = new Machine(TWO_DEVICE_GROUP);
    const ctx = m.openIommufd();
    m.open("/dev/vfio/7");
    expect(m.setContainer(7, ctx)).toBe(0);
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nica", 3: "hwpt_paging", 4: "device:nicb" });
    const c = m.state.iommufd.contexts[ctx]!;
    expect(c.objects[2]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(c.objects[4]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    // A mapping made afterwards reaches both functions (RIDs 01:00.0 and 01:00.1) at the same frame.
    const va = m.mmap(0x1000n);
    const map = bytes(32, [
      [0, 4, 32],
      [4, 4, 3],
      [8, 8, va],
      [16, 8, 0x4000n],
      [24, 8, 0x1000n],
    ]);
    expect(m.ioctl(ctx, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    const pa = userVaToPa(m.state.mm, PID, va) as number;
    for (const rid of [0x100, 0x101])
      expect(
        translate(m.state as unknown as VtdRoot, 0, { rid, iova: 0x4010n, length: 8, write: true }),
      ).toEqual({
        kind: "ok",
        runs: [{ pa: BigInt(pa) + 0x10n, length: 8 }],
      });
    // the lone device's group is untouched
    expect(m.status(8)[0]).toBe(EBADF);
    expect(
      translate(m.state as unknown as VtdRoot, 0, { rid: 0x200, iova: 0x4000n, length: 8, write: false }),
    ).toMatchObject({
      kind: "fault",
    });
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
  it("opens a file on the binding SET_CONTAINER made; every open shares it", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(EINVAL); // no container
    m.setContainer(2, ctx);
    expect(m.deviceFd(2, "nic0")).toBe(ENODEV); // dev_name() is the PCI name
    expect(m.deviceFd(2, "0000:00:02.0")).toBe(ENODEV); // accel0 is in group 1
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(1);
    // IOAS 1 (compat), device 2, its auto domain 3 on the IOAS — as SET_CONTAINER left them
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    expect(m.state.iommufd.contexts[ctx]!.objects[2]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(m.state.vfio.files[1]).toEqual({ id: 1, device: "nic0", group: 2, ctx, devId: 2 });
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

  it("closing device files leaves the device bound (the group owns it); the group's release unbinds", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    const a = m.deviceFd(2, "0000:03:00.0");
    const b = m.deviceFd(2, "0000:03:00.0");
    m.env.dispatch({ type: "vfio.device.close", data: { file: a } });
    m.env.dispatch({ type: "vfio.device.close", data: { file: b } });
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } });
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
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" }); // still bound
    m.env.dispatch({ type: "vfio.device.close", data: { file: fd } });
    expect(m.objects(ctx)).toEqual({ 1: "ioas" }); // released with the group
    expect(m.open("/dev/vfio/2")).toBe(2);
    expect(m.status(2)).toEqual([0, VIABLE]); // its container went with the old file
  });
});

describe("viability: every device of a group must be usable by one owner", () => {
  it("a device of the group bound to any iommufd makes the group not viable and SET_CONTAINER EPERM", () => {
    const m = new Machine(TWO_DEVICE_GROUP);
    const a = m.openIommufd();
    const b = m.openIommufd(false);
    // nicb bound to b by iommufd itself (as a driver holding it would)
    const bound = m.log.dispatch({ type: "iommufd.device.bind", data: { ctx: b, device: "nicb" } });
    expect(isErrno(bound)).toBe(false);
    m.open("/dev/vfio/7");
    expect(m.status(7)).toEqual([0, 0]);
    expect(m.setContainer(7, a)).toBe(EPERM); // iommu_group_claim_dma_owner: owner_cnt != 0
    expect(m.setContainer(7, b)).toBe(EPERM); // whoever the owner is
    expect(m.objects(a)).toEqual({}); // refused before anything was made
    expect(m.objects(b)).toEqual({ 1: "device:nicb" });
    // the other group is unaffected
    m.open("/dev/vfio/8");
    expect(m.setContainer(8, a)).toBe(0);
    expect(m.objects(a)).toEqual({ 1: "ioas", 2: "device:ssd0", 3: "hwpt_paging" });
    // once nicb is let go, group 7 joins the container: both devices on the shared domain
    expect(isErrno(m.log.dispatch({ type: "iommufd.device.unbind", data: { ctx: b, devId: 1 } }))).toBe(
      false,
    );
    expect(m.status(7)).toEqual([0, VIABLE]);
    expect(m.setContainer(7, a)).toBe(0);
    expect(m.objects(a)).toEqual({
      1: "ioas",
      2: "device:ssd0",
      3: "hwpt_paging",
      4: "device:nica",
      5: "device:nicb",
    });
  });

  it("the compat IOAS cannot be destroyed under the group's devices (EBUSY); after UNSET it can", () => {
    const m = new Machine();
    m.open("/dev/vfio/2");
    const ctx = m.openIommufd();
    m.setContainer(2, ctx);
    const destroy = () =>
      m.ioctl(
        ctx,
        IOMMU_IOCTL.IOMMU_DESTROY,
        bytes(8, [
          [0, 4, 8],
          [4, 4, 1],
        ]),
      );
    expect(destroy()).toBe(EBUSY);
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(destroy()).toBe(0);
    expect(m.compatIoas(ctx)[0]).toBe(ENODEV);
    // SET_CONTAINER again makes a new compat IOAS
    expect(m.setContainer(2, ctx)).toBe(0);
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
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
    for (const g of [2, 1, 3]) {
      expect(m.open(`/dev/vfio/${g}`)).toBe(g);
      expect(m.setContainer(g, ctx)).toBe(0);
    }
    // nic0 (group 2) first; accel0: same unit, same PASID-capable auto domain; gpu0 behind the SMMU
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
