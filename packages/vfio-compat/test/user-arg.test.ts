/**
 * The register entry point `vfioCompatIoctlUser`: the argument is a user
 * virtual address in the caller's (simulated) memory, read and written
 * there like copy_from_user/copy_to_user, faulting with EFAULT.
 */

import { readUser } from "@iommu-sim/iopt";
import { IOMMU_VFIO_IOAS_SET, MOCK_APERTURE_START, VFIO_IOCTL, VFIO_TYPE1v2_IOMMU } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytesArg, vfioCompatIoctlUser, vfioIntArg } from "../src/index";
import { bytes, Container, PAGE, PID, view } from "./harness";

const EFAULT = -14;

function read(c: Container, va: bigint, length: number): Uint8Array {
  const r = readUser(c.state.mm, PID, va, length);
  if (!(r instanceof Uint8Array)) throw new Error(`read ${r}`);
  return r;
}

describe("vfioCompatIoctlUser", () => {
  it("integer ioctls take the register value itself", () => {
    const c = new Container();
    expect(
      vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_CHECK_EXTENSION, BigInt(VFIO_TYPE1v2_IOMMU)),
    ).toBe(1);
    expect(vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_GET_API_VERSION, 0n)).toBe(0);
  });

  it("GET_INFO writes the struct and the chain into the caller's memory; a bad pointer is EFAULT", () => {
    const c = new Container();
    const ioas = c.ioasAlloc();
    c.mockDomain(ioas);
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas);
    const va = c.buffer + PAGE;
    c.env.user.write(va, bytes(72, [[0, 4, 72]]));
    expect(vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, va)).toBe(0);
    const out = read(c, va, 72);
    expect(view(out).getUint32(16, true)).toBe(24); // cap_offset
    expect(view(out).getBigUint64(56, true)).toBe(BigInt(MOCK_APERTURE_START));
    expect(vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, 0x10n)).toBe(EFAULT);
  });

  it("GET_INFO whose argsz runs past the caller's mapping faults when the chain is written", () => {
    const c = new Container();
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, c.ioasAlloc());
    const va = c.buffer + 16n * PAGE - 24n; // the struct fits, the chain would not
    c.env.user.write(va, bytes(24, [[0, 4, 72]]));
    expect(vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, va)).toBe(EFAULT);
  });

  it("UNMAP_DMA answers size in the caller's memory", () => {
    const c = new Container();
    const ioas = c.ioasAlloc();
    c.mockDomain(ioas);
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas);
    expect(c.mapDma(c.buffer, 0x100_0000n, 2n * PAGE)).toBe(0);
    const va = c.buffer + 8n * PAGE;
    c.env.user.write(
      va,
      bytes(24, [
        [0, 4, 24],
        [4, 4, 2],
      ]),
    );
    expect(vfioCompatIoctlUser(c.env, c.ctx, VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, va)).toBe(0);
    expect(view(read(c, va, 24)).getBigUint64(16, true)).toBe(2n * PAGE);
  });
});

describe("bytesArg / vfioIntArg", () => {
  it("the integer is little endian, zero-extended from fewer bytes", () => {
    expect(bytesArg(vfioIntArg(0x0102_0304_0506_0708n)).value).toBe(0x0102_0304_0506_0708n);
    expect(bytesArg(new Uint8Array([3])).value).toBe(3n);
    expect(bytesArg(new Uint8Array(0)).value).toBe(0n);
    expect([...vfioIntArg(-1)]).toEqual(Array(8).fill(0xff));
  });
});
