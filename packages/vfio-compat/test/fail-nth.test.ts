/**
 * Fail-nth sweeps over container ioctl sequences, in the manner of Linux's
 * tools/testing/selftests/iommu/iommufd_fail_nth.c: for every N until the
 * sequence runs clean, a fresh system whose Nth fallible step fails. The
 * failing ioctl must return −errno and leave the state exactly as it was
 * (same hash), and closing the fd must then free everything.
 */
import { stateHash } from "@iommu-sim/eventlog";
import {
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  IOMMU_VFIO_IOAS_SET,
  VFIO_IOCTL,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, Container, PAGE, view } from "./harness";

const BASE = 0x100_0000n;
type Step = (c: Container, s: { ioas: number }) => number;

const ioasAlloc: Step = (c, s) => {
  const arg = bytes(12, [[0, 4, 12]]);
  const rc = c.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg);
  s.ioas = view(arg).getUint32(8, true);
  return rc;
};
const mockDomain: Step = (c, s) => c.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN, s.ioas, [])[0];
const setCompat: Step = (c, s) => c.vfioIoas(IOMMU_VFIO_IOAS_SET, s.ioas)[0];
const setIommu =
  (type: number): Step =>
  (c) =>
    c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, type);
const map =
  (page: bigint, pages: bigint): Step =>
  (c) =>
    c.mapDma(c.buffer + page * PAGE, BASE + page * PAGE, pages * PAGE);
const unmap =
  (page: bigint, pages: bigint): Step =>
  (c) =>
    c.unmapDma(BASE + page * PAGE, pages * PAGE)[0];
const unmapAll: Step = (c) => c.unmapDma(0n, 0n, 2)[0];
const getInfo: Step = (c) => c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, bytes(72, [[0, 4, 72]]));

const SETUP = [ioasAlloc, mockDomain, setCompat];
const SEQUENCES: Record<string, Step[]> = {
  type1v2: [
    ...SETUP,
    setIommu(VFIO_TYPE1v2_IOMMU),
    getInfo,
    map(0n, 4n),
    map(8n, 2n),
    unmap(0n, 4n),
    unmapAll,
  ],
  type1: [...SETUP, setIommu(VFIO_TYPE1_IOMMU), map(0n, 8n), getInfo, unmap(0n, 8n), map(2n, 1n)],
};

describe.each(Object.entries(SEQUENCES))("fail-nth sweep: %s", (_name, seq) => {
  it("every fallible step fails cleanly, and closing frees everything", () => {
    let injected = 0;
    for (let n = 1; n < 10_000; n++) {
      const c = new Container();
      const s = { ioas: 0 };
      let remaining = n;
      let failed = false;
      for (const step of seq) {
        const before = stateHash(c.log.state);
        c.log.failNth(remaining);
        const report = c.log.lastSteps;
        const rc = step(c, s);
        const dispatched = c.log.lastSteps !== report;
        if (dispatched && c.log.lastSteps.fired) {
          expect(rc, `step ${n} must fail`).toBeLessThan(0);
          expect(stateHash(c.log.state), `step ${n} left a trace`).toBe(before);
          failed = true;
          injected++;
          break;
        }
        expect(rc).toBe(0);
        if (dispatched) remaining -= c.log.lastSteps.sites.length;
      }
      c.log.dispatch({ type: "iommufd.close", data: { ctx: c.ctx } });
      expect(c.state.iopt.ioas.size).toBe(0);
      expect(c.state.iopt.pages.size).toBe(0);
      expect(c.state.mockDomain.domains.size).toBe(0);
      if (!failed) break;
    }
    // the maps at least have fallible steps (pages allocation, pinning, domain PTEs)
    expect(injected).toBeGreaterThanOrEqual(2);
  });
});
