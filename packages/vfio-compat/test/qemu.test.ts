/**
 * The container-level sequence QEMU's hw/vfio (container.c) runs for a
 * 4 GiB x86 guest, on a /dev/vfio/vfio open: API version, extensions,
 * compat IOAS (here set by hand; qemu-guest.test.ts goes through a group), SET_IOMMU
 * TYPE1v2, GET_INFO twice (size, then the chain), guest RAM mapped in its
 * two usual pieces around the PCI hole — [0, 3 GiB) and [4 GiB, 5 GiB)
 * from one 4 GiB host mapping — then UNMAP_ALL at shutdown.
 *
 * The reserved range is the x86 MSI window 0xfee0_0000–0xfeef_ffff
 * (Intel SDM vol. 3 §11.11.1; what an x86 device's iommu_get_resv_regions
 * reports), so IOVA_RANGE lists the two holes around it.
 */
import {
  decodeVfioCapChain,
  isErrno,
  VFIO_EXTENSION,
  VFIO_IOCTL,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_TYPE1v2_IOMMU,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, Container, view } from "./harness";

const GiB = 1n << 30n;
const MSI_START = 0xfee0_0000n;
const MSI_LENGTH = 0x10_0000n;
const U64_MAX = (1n << 64n) - 1n;

describe("QEMU-style container sequence, 4 GiB guest", () => {
  it("extensions, SET_IOMMU, GET_INFO with capabilities, map RAM below and above 4 GiB, unmap all", () => {
    const c = new Container(true);
    expect(c.ioctl(VFIO_IOCTL.VFIO_GET_API_VERSION)).toBe(0);
    const ext = (e: number) => c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, e);
    expect(ext(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU)).toBe(1);
    expect(ext(VFIO_EXTENSION.VFIO_TYPE1_IOMMU)).toBe(1);
    expect(ext(VFIO_EXTENSION.VFIO_UNMAP_ALL)).toBe(1);
    expect(ext(VFIO_EXTENSION.VFIO_UPDATE_VADDR)).toBe(0); // QEMU's CPR probe: live update unavailable
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)).toBe(-19); // no group yet: ENODEV

    // By hand what SET_CONTAINER + GET_DEVICE_FD do together: a compat IOAS with the device's reserved regions.
    const ioas = c.ioasAlloc();
    expect(c.addReserved(ioas, MSI_START, MSI_LENGTH)).toBe(0);
    expect(c.vfioIoas(1 /* IOMMU_VFIO_IOAS_SET */, ioas)[0]).toBe(0);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)).toBe(0);

    // vfio_get_iommu_info(): ask with sizeof(info), grow to the argsz answered, ask again
    const probe = bytes(24, [[0, 4, 24]]);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, probe)).toBe(0);
    const argsz = view(probe).getUint32(0, true);
    expect(argsz).toBe(24 + 16 + 16 + 2 * 16);
    const info = bytes(argsz, [[0, 4, argsz]]);
    expect(c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, info)).toBe(0);
    expect(view(info).getUint32(4, true)).toBe(3); // PGSIZES | CAPS
    // no domain yet: every size from PAGE_SIZE up (ULONG_MAX & PAGE_MASK)
    expect(view(info).getBigUint64(8, true)).toBe(0xffff_ffff_ffff_f000n);
    const caps = decodeVfioCapChain(info, view(info).getUint32(16, true));
    if (isErrno(caps)) throw new Error(`${caps}`);
    expect(caps.map((k) => [k.id, k.version, k.offset])).toEqual([
      [VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 24],
      [VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 40],
    ]);
    const ranges = caps[1]!.body;
    expect(view(ranges).getUint32(0, true)).toBe(2);
    expect(
      [0, 1].map((i) => [
        view(ranges).getBigUint64(8 + 16 * i, true),
        view(ranges).getBigUint64(16 + 16 * i, true),
      ]),
    ).toEqual([
      [0n, MSI_START - 1n],
      [MSI_START + MSI_LENGTH, U64_MAX],
    ]);

    // guest RAM: one 4 GiB host mapping, [0, 3 GiB) at IOVA 0 and [3 GiB, 4 GiB) at IOVA 4 GiB
    const ram = c.mmap(4n * GiB);
    expect(c.mapDma(ram, 0n, 3n * GiB)).toBe(0);
    expect(c.mapDma(ram + 3n * GiB, 4n * GiB, GiB)).toBe(0);
    const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
    expect(c.areas(kobj)).toEqual([
      [0n, 3n * GiB - 1n],
      [4n * GiB, 5n * GiB - 1n],
    ]);
    // mapping over the MSI window is refused (reserved: EINVAL), over RAM already mapped EEXIST
    expect(c.mapDma(ram, MSI_START, 0x1000n)).toBe(-22);
    expect(c.mapDma(ram, 2n * GiB, 0x1000n)).toBe(-17);

    // shutdown: vfio_listener_release → UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_ALL
    expect(c.unmapDma(0n, 0n, 2)).toEqual([0, 4n * GiB]);
    expect(c.areas(kobj)).toEqual([]);
    expect(c.state.iopt.pages.size).toBe(0);
  });
});
