/**
 * Fail-nth sweeps in the manner of tools/testing/selftests/iommu/
 * iommufd_fail_nth.c: every fallible step of map, copy, attach, access pin,
 * access write and mmap fails in turn; each failure must return an errno
 * and leave the state exactly as it was (same state hash, no pin, no area,
 * no domain entry).
 */
import { stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { ioptDecider, mockDomainDescriptor } from "../src/index";
import { BUFFER_SIZE, BUFFER_VA, MOCK_APERTURE_START, PAGE, Sim } from "./fixture";

type Cmd = Parameters<Sim["dispatch"]>[0];

/** Sweep `cmd` on the sim's state, then check the log rejects each injected failure without a trace. */
function sweep(sim: Sim, cmd: Cmd): number {
  const report = sweepFailNth(ioptDecider(), sim.state, cmd);
  const before = stateHash(sim.state);
  const seq = sim.log.seq;
  for (let n = 1; n <= report.steps; n++) {
    sim.log.failNth(n);
    const r = sim.log.dispatch(cmd);
    expect(isErrno(r)).toBe(true);
    expect(sim.log.seq).toBe(seq);
    expect(stateHash(sim.state)).toBe(before);
  }
  return report.steps;
}

function world(domains: number) {
  const sim = new Sim();
  const ioas = sim.ioasAlloc();
  const ids: number[] = [];
  for (let i = 0; i < domains; i++) ids.push(sim.mockDomain(ioas));
  return { sim, ioas, ids };
}

describe("fail-nth", () => {
  it("ioas.map with two domains: every step fails cleanly, then the map succeeds", () => {
    const { sim, ioas, ids } = world(2);
    const cmd = sim.mapCmd(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    expect(sweep(sim, cmd)).toBeGreaterThanOrEqual(3);
    sim.ok(cmd);
    for (const d of ids) sim.checkMap(d, MOCK_APERTURE_START, BUFFER_SIZE, BUFFER_VA);
    sim.checkRefs(BUFFER_VA, BUFFER_SIZE, 1);
  });

  it("ioas.copy into an IOAS with a domain", () => {
    const { sim, ioas } = world(0);
    const target = sim.ioasAlloc();
    sim.mockDomain(target);
    sim.map(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    const cmd: Cmd = {
      type: "ioas.copy",
      data: {
        dstIoas: target,
        srcIoas: ioas,
        srcIova: MOCK_APERTURE_START,
        dstIova: MOCK_APERTURE_START,
        length: BUFFER_SIZE,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE,
      },
    };
    expect(sweep(sim, cmd)).toBeGreaterThanOrEqual(3);
    sim.checkRefs(BUFFER_VA, BUFFER_SIZE, 0);
    sim.ok(cmd);
    sim.checkRefs(BUFFER_VA, BUFFER_SIZE, 1);
  });

  it("ioas.attach_domain over existing areas", () => {
    const { sim, ioas } = world(0);
    sim.map(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    sim.map(ioas, BUFFER_VA, PAGE, MOCK_APERTURE_START + BUFFER_SIZE);
    const id = sim.id();
    sim.ok({ type: "iopt.mock.alloc", data: { domain: id } });
    const cmd: Cmd = { type: "ioas.attach_domain", data: { ioas, domain: mockDomainDescriptor(id) } };
    expect(sweep(sim, cmd)).toBeGreaterThanOrEqual(5);
    sim.ok(cmd);
    sim.checkMap(id, MOCK_APERTURE_START, BUFFER_SIZE, BUFFER_VA);
    // Two iopt_pages over the first page: two pins.
    sim.checkRefs(BUFFER_VA, PAGE, 2);
  });

  it("iopt.access.pin and iopt.access.write", () => {
    const { sim, ioas } = world(0);
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    sim.map(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    const pin: Cmd = {
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: MOCK_APERTURE_START + PAGE, length: 2n * PAGE, write: true },
    };
    expect(sweep(sim, pin)).toBeGreaterThanOrEqual(1);
    const write: Cmd = {
      type: "iopt.access.write",
      data: { access, iova: MOCK_APERTURE_START + 3n * PAGE - 5n, bytes: new Uint8Array(10).fill(9) },
    };
    expect(sweep(sim, write)).toBeGreaterThanOrEqual(1);
    sim.ok(pin);
    sim.checkRefs(BUFFER_VA + PAGE, 2n * PAGE, 1);
  });

  it("mm.mmap and mm.write", () => {
    const sim = new Sim();
    expect(sweep(sim, { type: "mm.mmap", data: { pid: 1, length: PAGE, prot: 3, shared: false } })).toBe(1);
    expect(sweep(sim, { type: "mm.write", data: { pid: 1, va: BUFFER_VA, bytes: new Uint8Array(8) } })).toBe(
      1,
    );
  });
});
