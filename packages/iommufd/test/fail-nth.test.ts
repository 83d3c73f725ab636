/**
 * A fail-nth sweep in the manner of Linux's
 * tools/testing/selftests/iommu/iommufd_fail_nth.c: for a whole sequence of
 * ioctls, and for every N until the sequence runs clean, a fresh system in
 * which the Nth fallible step of the sequence fails. The failing ioctl must
 * return an errno and leave the state exactly as before it (same hash),
 * and closing the context must then free everything: no IOAS, no pages,
 * no domain, no pinned page.
 * Sequences: basic, map_domain, map_two_domains, device. (IOMMU_GET_HW_INFO
 * and unmap have no fallible step of their own in Linux either.)
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, MOCK_APERTURE_START } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const BASE = BigInt(MOCK_APERTURE_START);

/** One step of a sequence: an ioctl through the fixture; returns its result. */
type Step = (f: Fixture) => number;

const map: (iova: bigint, pages: bigint) => Step = (iova, pages) => (f) => f.map(pages * PAGE, iova)[0];
const unmap: (iova: bigint, pages: bigint) => Step = (iova, pages) => (f) => f.unmap(iova, pages * PAGE);
const mockDomain: Step = (f) => {
  const [rc, ids] = f.mockDomain(f.ioas);
  if (rc === 0) [f.stdev, f.hwpt, f.idev] = ids;
  return rc;
};
const hwInfo: Step = (f) =>
  f.fd.ioctl(
    IOMMU_IOCTL.IOMMU_GET_HW_INFO,
    bytes(40, [
      [0, 4, 40],
      [8, 4, f.idev],
      [12, 4, 0],
    ]),
  );
const ioasAlloc: Step = (f) => {
  const arg = bytes(12, [[0, 4, 12]]);
  const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg);
  return rc === 0 ? (view(arg).getUint32(8, true) > 0 ? 0 : -1) : rc;
};

const SEQUENCES: Record<string, Step[]> = {
  basic: [ioasAlloc, map(BASE, 4n), map(BASE + 16n * PAGE, 2n), unmap(BASE, 4n)],
  map_domain: [mockDomain, map(BASE, 8n), unmap(BASE, 8n), map(BASE, 2n)],
  map_two_domains: [mockDomain, map(BASE, 8n), mockDomain, map(BASE + 64n * PAGE, 1n), unmap(BASE, 8n)],
  device: [mockDomain, hwInfo, map(BASE, 1n)],
};

describe.each(Object.entries(SEQUENCES))("fail-nth sweep: %s", (_name, seq) => {
  it("every fallible step fails cleanly and closing frees everything", () => {
    let injected = 0;
    for (let n = 1; n < 10_000; n++) {
      const f = new Fixture(0);
      let remaining = n;
      let failed = false;
      for (const step of seq) {
        const before = stateHash(f.log.state);
        f.log.failNth(remaining);
        const report = f.log.lastSteps;
        const rc = step(f);
        // a query (GET_HW_INFO) dispatches nothing: the report is the previous command's
        const dispatched = f.log.lastSteps !== report;
        if (dispatched && f.log.lastSteps.fired) {
          expect(rc, `step ${n} must fail`).toBeLessThan(0);
          expect(stateHash(f.log.state), `step ${n} left a trace`).toBe(before);
          failed = true;
          injected++;
          break;
        }
        expect(rc).toBe(0);
        if (dispatched) remaining -= f.log.lastSteps.sites.length;
      }
      f.fd.close();
      const s = f.log.state;
      expect(s.iopt.ioas.size).toBe(0);
      expect(s.iopt.pages.size).toBe(0);
      expect(s.mockDomain.domains.size).toBe(0);
      if (!failed) break;
    }
    // every ioctl of these sequences has at least one fallible step
    expect(injected).toBeGreaterThanOrEqual(seq.length);
  });
});
