/**
 * The VFIO cases of Linux's selftest fixture `iommufd`
 * (tools/testing/selftests/iommu/iommufd.c: simple_ioctls, unmap_cmd,
 * map_cmd, info_cmd, set_iommu_cmd, vfio_ioas) on a /dev/iommu open with
 * no compat IOAS, plus the rest of vfio_compat.c's dispatch table.
 */
import {
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  MOCK_APERTURE_START,
  VFIO_IOCTL,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, Container, PAGE } from "./harness";

const EINVAL = -22;
const ENODEV = -19;
const ENOENT = -2;
const ENOTTY = -25;
const EBADF = -9;
const BASE = BigInt(MOCK_APERTURE_START);

describe("fixture iommufd: VFIO compat ioctls without a compat IOAS", () => {
  it("simple_ioctls: GET_API_VERSION is VFIO_API_VERSION (0), TYPE1v2 is supported", () => {
    const c = new Container(false);
    expect(c.ioctl(VFIO_IOCTL.VFIO_GET_API_VERSION)).toBe(0);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)).toBe(1);
  });

  it("unmap_cmd: argsz 1 → EINVAL, flag bit 31 → EINVAL, then ENODEV", () => {
    const c = new Container(false);
    expect(c.unmapDma(BASE, PAGE, 0, 1)[0]).toBe(EINVAL);
    expect(c.unmapDma(BASE, PAGE, 1 << 31)[0]).toBe(EINVAL);
    expect(c.unmapDma(BASE, PAGE, 0)[0]).toBe(ENODEV);
  });

  it("map_cmd: argsz 1 → EINVAL, flag bit 31 → EINVAL, READ|WRITE without a domain → ENODEV", () => {
    const c = new Container(false);
    expect(c.mapDma(c.buffer, BASE, PAGE, 0, 1)).toBe(EINVAL);
    expect(c.mapDma(c.buffer, BASE, PAGE, 1 << 31)).toBe(EINVAL);
    expect(c.mapDma(c.buffer, BASE, PAGE, 3)).toBe(ENODEV);
  });

  it("info_cmd: argsz 1 → EINVAL, then ENODEV", () => {
    const c = new Container(false);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, bytes(24, [[0, 4, 1]]))).toBe(EINVAL);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, bytes(24, [[0, 4, 24]]))).toBe(ENODEV);
  });

  it("set_iommu_cmd: TYPE1v2 and TYPE1 need a compat IOAS (ENODEV)", () => {
    const c = new Container(false);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)).toBe(ENODEV);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(ENODEV);
  });

  it("vfio_ioas: GET ENODEV, SET of id 0 ENOENT, SET/GET round trip, CLEAR", () => {
    const c = new Container(false);
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_GET)[0]).toBe(ENODEV);
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_SET, 0)[0]).toBe(ENOENT);
    const ioas = c.ioasAlloc();
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas)[0]).toBe(0);
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_GET)).toEqual([0, ioas]);
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_CLEAR)[0]).toBe(0);
    expect(c.vfioIoas(IOMMU_VFIO_IOAS_GET)[0]).toBe(ENODEV);
  });
});

describe("vfio_compat.c dispatch", () => {
  it("SET_IOMMU of any type but TYPE1/TYPE1v2 is EINVAL, checked before the compat IOAS", () => {
    const c = new Container();
    for (const t of [0, 2, 4, 5, 6, 7, 8, 9, 10, 2 ** 32 + 3])
      expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, t), `type ${t}`).toBe(EINVAL);
  });

  it("every other container, group or device request is ENOTTY (-ENOIOCTLCMD)", () => {
    const c = new Container();
    for (const name of [
      "VFIO_GROUP_GET_STATUS",
      "VFIO_GROUP_SET_CONTAINER",
      "VFIO_GROUP_UNSET_CONTAINER",
      "VFIO_GROUP_GET_DEVICE_FD",
      "VFIO_DEVICE_GET_INFO",
      "VFIO_DEVICE_RESET",
      "VFIO_IOMMU_ENABLE",
      "VFIO_IOMMU_DISABLE",
      "VFIO_IOMMU_DIRTY_PAGES",
      "VFIO_DEVICE_BIND_IOMMUFD",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
      "VFIO_DEVICE_DETACH_IOMMUFD_PT",
    ] as const)
      expect(c.ioctl(VFIO_IOCTL[name], bytes(64, [[0, 4, 64]])), name).toBe(ENOTTY);
    // VFIO's type ';' with a size encoded is a different request number
    expect(c.ioctl(VFIO_IOCTL.VFIO_GET_API_VERSION | (8 << 16))).toBe(ENOTTY);
  });

  it("MAP_DMA's VADDR and UNMAP_DMA's GET_DIRTY_BITMAP and VADDR flags are EINVAL, before the compat IOAS", () => {
    const c = new Container();
    expect(c.mapDma(c.buffer, BASE, PAGE, 3 | 4)).toBe(EINVAL); // VFIO_DMA_MAP_FLAG_VADDR
    expect(c.unmapDma(BASE, PAGE, 1)[0]).toBe(EINVAL); // VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
    expect(c.unmapDma(BASE, PAGE, 4)[0]).toBe(EINVAL); // VFIO_DMA_UNMAP_FLAG_VADDR
    expect(c.unmapDma(0n, 0n, 2 | 4)[0]).toBe(EINVAL);
  });

  it("a closed context is EBADF", () => {
    const c = new Container();
    c.log.dispatch({ type: "iommufd.close", data: { ctx: c.ctx } });
    expect(c.ioctl(VFIO_IOCTL.VFIO_GET_API_VERSION)).toBe(EBADF);
  });

  it("a struct shorter than minsz in memory faults (EFAULT) before argsz is checked", () => {
    const c = new Container();
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, bytes(31, [[0, 4, 32]]))).toBe(-14);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, bytes(23, [[0, 4, 1]]))).toBe(-14);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, bytes(15, [[0, 4, 1]]))).toBe(-14);
  });
});
