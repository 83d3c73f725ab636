/**
 * Reserved and allowed ranges and the top of the 64-bit IOVA space:
 * device reserved regions (the x86 MSI window 0xfee00000–0xfeefffff,
 * Intel VT-d spec §3.14 "interrupt address range"), ALLOW_IOVAS validation
 * (Linux ioas.c iommufd_ioas_load_iovas()), and inclusive `last` at 2^64 − 1.
 */
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { allocIova, iovaRanges } from "../src/index";
import { BUFFER_VA, PAGE, Sim, U64_MAX } from "./fixture";

const MSI_START = 0xfee0_0000n;
const MSI_LAST = 0xfeef_ffffn;

describe("reserved and allowed ranges", () => {
  it("a device's MSI window is avoided by automatic IOVA and refused to FIXED maps", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    sim.ok({ type: "ioas.reserve", data: { ioas, start: MSI_START, last: MSI_LAST, owner: 42 } });
    expect(sim.allow(ioas, [{ start: MSI_START - 0x10_0000n, last: MSI_LAST + 0x10_0000n }])).toBe(
      "EADDRINUSE",
    );
    expect(sim.mapErr(ioas, BUFFER_VA, PAGE, MSI_START + PAGE)).toBe("EINVAL");
    expect(sim.allow(ioas, [{ start: MSI_START - 0x10_0000n, last: MSI_START - 1n }])).toBeUndefined();
    // Only 1 MiB below the window is allowed: a 2 MiB map finds no hole.
    expect(sim.mapErr(ioas, BUFFER_VA, 2n * 0x10_0000n)).toBe("ENOSPC");
    const iova = sim.map(ioas, BUFFER_VA, PAGE);
    expect(iova).toBe(MSI_START - 0x10_0000n);
    const r = iovaRanges(sim.state, ioas);
    if (isErrno(r)) throw new Error(r.toString());
    expect(r.ranges).toEqual([
      { start: 0n, last: MSI_START - 1n },
      { start: MSI_LAST + 1n, last: U64_MAX },
    ]);
    // Removing the device's regions frees the window.
    sim.ok({ type: "ioas.unreserve", data: { ioas, owner: 42 } });
    const after = iovaRanges(sim.state, ioas);
    expect(!isErrno(after) && after.ranges).toEqual([{ start: 0n, last: U64_MAX }]);
  });

  it("ALLOW_IOVAS rejects start >= last and overlapping ranges with EINVAL", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    expect(sim.allow(ioas, [{ start: PAGE, last: PAGE }])).toBe("EINVAL");
    expect(
      sim.allow(ioas, [
        { start: PAGE, last: 4n * PAGE },
        { start: 4n * PAGE, last: 8n * PAGE },
      ]),
    ).toBe("EINVAL");
    expect(sim.allow(ioas, [{ start: 2n * PAGE, last: 3n * PAGE - 1n }])).toBeUndefined();
    expect(sim.addReserved(ioas, 3n * PAGE, PAGE)).toBeUndefined();
    expect(sim.addReserved(ioas, 2n * PAGE, PAGE)).toBe("EADDRINUSE");
  });

  it("the last page of the 64-bit space maps and unmaps; one byte more overflows", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    const top = U64_MAX - PAGE + 1n;
    expect(sim.mapErr(ioas, BUFFER_VA, 2n * PAGE, top)).toBe("EOVERFLOW");
    expect(sim.map(ioas, BUFFER_VA, PAGE, top)).toBe(top);
    expect(sim.mapErr(ioas, BUFFER_VA, PAGE, top)).toBe("EEXIST");
    // Automatic allocation stops at 2^64 − 1 − PAGE_SIZE and never returns 0.
    const ioasState = sim.state.iopt.ioas.get(ioas)!;
    expect(allocIova(ioasState, 0n, PAGE)).toEqual({ iova: PAGE });
    expect(allocIova(ioasState, 0n, 0n)).toEqual({ error: "EOVERFLOW" });
    expect(allocIova(ioasState, 0n, 1n << 63n)).toEqual({ error: "EOVERFLOW" });
    expect(sim.unmap(ioas, top, PAGE)).toBe(PAGE);
    expect(sim.err(sim.unmapCmd(ioas, top, 2n * PAGE))).toBe("EOVERFLOW");
  });
});
