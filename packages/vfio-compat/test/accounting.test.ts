/**
 * RLIMIT_MEMLOCK accounting of container maps. A /dev/vfio/vfio open is an
 * iommufd context with account_mode IOPT_PAGES_ACCOUNT_MM (Linux
 * iommufd_fops_open(): "For compatibility with VFIO when /dev/vfio/vfio is
 * opened we default to the same rlimit accounting as vfio uses"), so the
 * pins of MAP_DMA are charged to the process's mm->locked_vm; a /dev/iommu
 * open charges the user (user->locked_vm) unless IOMMU_OPTION_RLIMIT_MODE
 * says per mm. The selftest's BUFFER_SIZE is 16 pages of 4 KiB.
 */
import { IOMMU_IOCTL, IOMMU_VFIO_IOAS_SET, VFIO_IOCTL, VFIO_TYPE1v2_IOMMU } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { BUFFER_SIZE, bytes, Container, PID } from "./harness";

const BASE = 0x100_0000n;
const UID = 1000; // mm.spawn's default uid

/** A container (vfio = /dev/vfio/vfio) with a mock device's domain on its compat IOAS, TYPE1v2 set. */
function container(vfio: boolean): Container {
  const c = new Container(vfio);
  const ioas = c.ioasAlloc();
  c.mockDomain(ioas);
  if (c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas)[0] !== 0) throw new Error("VFIO_IOAS_SET failed");
  if (c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) !== 0) throw new Error("SET_IOMMU failed");
  return c;
}

describe("accounting of compat maps", () => {
  it("/dev/vfio/vfio: MAP_DMA charges the mm (16 pages), not the user; UNMAP_DMA uncharges", () => {
    const c = container(true);
    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    expect(c.state.iopt.mmLocked.get(PID)).toBe(16);
    expect(c.state.iopt.userLocked.get(UID) ?? 0).toBe(0);
    expect(c.unmapDma(BASE, BUFFER_SIZE)).toEqual([0, BUFFER_SIZE]);
    expect(c.state.iopt.mmLocked.get(PID)).toBe(0);
  });

  it("/dev/vfio/vfio: IOMMU_IOAS_MAP on the same fd charges the mm too", () => {
    const c = container(true);
    const ioas = c.vfioIoas(0)[1]; // IOMMU_VFIO_IOAS_GET
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, 0b111], // FIXED_IOVA | WRITEABLE | READABLE
      [8, 4, ioas],
      [16, 8, c.buffer],
      [24, 8, BUFFER_SIZE],
      [32, 8, BASE],
    ]);
    expect(c.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg)).toBe(0);
    expect(c.state.iopt.mmLocked.get(PID)).toBe(16);
    expect(c.state.iopt.userLocked.get(UID) ?? 0).toBe(0);
  });

  it("/dev/iommu: the same MAP_DMA charges the user", () => {
    const c = container(false);
    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    expect(c.state.iopt.userLocked.get(UID)).toBe(16);
    expect(c.state.iopt.mmLocked.get(PID) ?? 0).toBe(0);
  });
});
