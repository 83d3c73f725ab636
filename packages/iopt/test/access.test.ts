/**
 * Access edge cases (Linux device.c iommufd_access_pin_pages(),
 * iommufd_access_rw(), iommufd_access_create(); ioas.c iommufd_ioas_copy()):
 * write permission, unknown ids, partial coverage, alignment, destroy.
 */

import { stateHash } from "@iommu-sim/eventlog";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { accessRead } from "../src/index";
import { BUFFER_VA, MOCK_PAGE_SIZE, PAGE, MOCK_APERTURE_START as S, Sim } from "./fixture";

function world() {
  const sim = new Sim();
  const ioas = sim.ioasAlloc();
  const access = sim.id();
  sim.ok({ type: "iopt.access.create", data: { access, ioas } });
  return { sim, ioas, access };
}

describe("accesses", () => {
  it("read-only areas: write pins and writes are EPERM, reads work; WRITEABLE copies of read-only pages are EPERM", () => {
    const { sim, ioas, access } = world();
    sim.map(ioas, BUFFER_VA, 2n * PAGE, S, IOMMU_IOAS_MAP_READABLE);
    expect(
      sim.err({ type: "iopt.access.pin", data: { access, pin: 1, iova: S, length: PAGE, write: true } }),
    ).toBe("EPERM");
    sim.ok({ type: "iopt.access.pin", data: { access, pin: 1, iova: S, length: PAGE, write: false } });
    expect(sim.err({ type: "iopt.access.write", data: { access, iova: S, bytes: new Uint8Array(1) } })).toBe(
      "EPERM",
    );
    expect(accessRead(sim.state, access, S + 10n, 4)).toEqual(new Uint8Array(4));
    const copy = (flags: number) =>
      sim.dispatch({
        type: "ioas.copy",
        data: { dstIoas: ioas, srcIoas: ioas, srcIova: S, dstIova: S + 8n * PAGE, length: PAGE, flags },
      });
    const r = copy(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE);
    expect(isErrno(r) && r.name).toBe("EPERM");
    expect(isErrno(copy(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE))).toBe(false);
  });

  it("unknown ids, reused pin ids and ranges not fully mapped", () => {
    const { sim, ioas, access } = world();
    sim.map(ioas, BUFFER_VA, 2n * PAGE, S);
    const pin = (a: number, p: number, iova: bigint, length: bigint) =>
      sim.dispatch({ type: "iopt.access.pin", data: { access: a, pin: p, iova, length, write: false } });
    const unknown = pin(999, 1, S, PAGE);
    expect(isErrno(unknown) && unknown.name).toBe("ENOENT");
    const partial = pin(access, 1, S + PAGE, 2n * PAGE);
    expect(isErrno(partial) && partial.name).toBe("ENOENT");
    const zero = pin(access, 1, S, 0n);
    expect(isErrno(zero) && zero.name).toBe("EINVAL");
    expect(isErrno(pin(access, 1, S, PAGE))).toBe(false);
    const again = pin(access, 1, S, PAGE);
    expect(isErrno(again) && again.name).toBe("EEXIST");
    expect(sim.err({ type: "iopt.access.unpin", data: { access, pin: 2 } })).toBe("ENOENT");
    expect(sim.err({ type: "iopt.access.create", data: { access, ioas } })).toBe("EEXIST");
    const read = accessRead(sim.state, access, S + 2n * PAGE - 1n, 2);
    expect(isErrno(read) && read.name).toBe("ENOENT");
  });

  it("an access's alignment joins the IOAS's: misaligned areas refuse it with EADDRINUSE", () => {
    const { sim, ioas } = world();
    sim.map(ioas, BUFFER_VA + MOCK_PAGE_SIZE, PAGE, S);
    expect(sim.err({ type: "iopt.access.create", data: { access: 77, ioas, iovaAlignment: PAGE } })).toBe(
      "EADDRINUSE",
    );
    sim.ok({ type: "iopt.access.create", data: { access: 77, ioas, iovaAlignment: MOCK_PAGE_SIZE } });
    expect(sim.state.iopt.ioas.get(ioas)!.iovaAlignment).toBe(Number(MOCK_PAGE_SIZE));
    sim.ok({ type: "iopt.access.destroy", data: { access: 77 } });
    expect(sim.state.iopt.ioas.get(ioas)!.iovaAlignment).toBe(1);
  });

  it("an internal access (a HW queue's) is not asked to unpin: unmapping what it pins is EBUSY and changes nothing", () => {
    const { sim, ioas, access } = world();
    sim.map(ioas, BUFFER_VA, 2n * PAGE, S);
    sim.map(ioas, BUFFER_VA + 2n * PAGE, PAGE, S + 2n * PAGE);
    const internal = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access: internal, ioas, internal: true } });
    sim.ok({
      type: "iopt.access.pin",
      data: { access: internal, pin: 1, iova: S + PAGE, length: PAGE, write: true },
    });
    // An ordinary access's pin in the same area would be released; the internal one blocks the unmap.
    sim.ok({ type: "iopt.access.pin", data: { access, pin: 1, iova: S, length: PAGE, write: true } });
    const before = stateHash(sim.state);
    expect(sim.err(sim.unmapCmd(ioas, S, 2n * PAGE))).toBe("EBUSY");
    expect(sim.err(sim.unmapCmd(ioas, 0n, 2n ** 64n - 1n))).toBe("EBUSY");
    expect(stateHash(sim.state)).toBe(before);
    // The area it does not pin unmaps; once the internal access is gone, so does the rest.
    expect(sim.unmap(ioas, S + 2n * PAGE, PAGE)).toBe(PAGE);
    sim.ok({ type: "iopt.access.destroy", data: { access: internal } });
    expect(sim.unmap(ioas, S, 2n * PAGE)).toBe(2n * PAGE);
    expect(sim.state.iopt.accesses.get(access)!.pins.size).toBe(0);
  });

  it("destroying an access releases its pins; an IOAS with an access cannot be destroyed", () => {
    const { sim, ioas, access } = world();
    sim.map(ioas, BUFFER_VA, 4n * PAGE, S);
    sim.ok({ type: "iopt.access.pin", data: { access, pin: 1, iova: S, length: 4n * PAGE, write: true } });
    sim.checkRefs(BUFFER_VA, 4n * PAGE, 1);
    expect(sim.err({ type: "ioas.destroy", data: { ioas } })).toBe("EBUSY");
    sim.ok({ type: "iopt.access.destroy", data: { access } });
    sim.checkRefs(BUFFER_VA, 4n * PAGE, 0);
    sim.ok({ type: "ioas.destroy", data: { ioas } });
    expect(sim.state.iopt.pages.size).toBe(0);
  });
});
