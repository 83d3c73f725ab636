/**
 * A fail-nth sweep over whole nested-HWPT ioctl sequences, in the manner
 * of Linux's tools/testing/selftests/iommu/iommufd_fail_nth.c: for every N
 * until the sequence runs clean, a fresh system in which the Nth fallible
 * step of the sequence fails. The failing ioctl returns an errno and
 * leaves the state hash as before it; closing the context then frees
 * everything (no IOAS, no domain, no mock nested domain, no VT-d domain).
 * The structs the ioctls point at are written to process memory before
 * the sweep, so that only the ioctls themselves dispatch commands.
 */
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest, invSelftest, invVtd, NestedFixture, sweepSteps } from "./nested-support";

const PAGE = 4096n;
const G = 0x10_0000n;

/** The sweep's fixture: ids found along the sequence and the structs at fixed scratch offsets. */
class Seq extends NestedFixture {
  dev = 0;
  parent = 0;
  nested = 0;
  /** Scratch offsets: the nested data at +0, the invalidation entries at +0x100. */
  constructor(readonly platformDevice?: string) {
    super(0);
    if (platformDevice === "accel0") {
      this.poke(
        this.scratch,
        bytes(24, [
          [8, 8, G],
          [16, 4, 48],
        ]),
      ); // iommu_hwpt_vtd_s1
      this.poke(this.scratch + 0x100n, invVtd([0x20_0000n, 1n]));
    } else {
      this.poke(this.scratch, hwptSelftest(0xbadbeef));
      this.poke(this.scratch + 0x100n, invSelftest([1, 0]));
    }
  }

  alloc(pt: number, flags: number, type: number, len: number): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, this.dev],
      [12, 4, pt],
      [24, 4, type],
      [28, 4, len],
      [32, 8, len === 0 ? 0n : this.scratch],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg), view(arg).getUint32(16, true)];
  }
}

type Step = (f: Seq) => number;

const bind: Step = (f) => {
  if (f.platformDevice === undefined) {
    const [rc, ids] = f.mockDomain(f.ioas);
    if (rc === 0) [f.stdev, , f.dev] = ids;
    return rc;
  }
  const r = f.log.dispatch({
    type: "iommufd.device.bind",
    data: { ctx: f.fd.ctx, device: f.platformDevice },
  });
  if (!Array.isArray(r)) return -1;
  f.dev = (r[0] as { data: { id: number } }).data.id;
  return 0;
};
const mapGuest: Step = (f) => f.map(16n * PAGE, G)[0];
const parent: Step = (f) => {
  const [rc, id] = f.alloc(f.ioas, 1, 0, 0); // NEST_PARENT
  f.parent = id;
  return rc;
};
const nested =
  (type: number, len: number): Step =>
  (f) => {
    const [rc, id] = f.alloc(f.parent, 0, type, len);
    f.nested = id;
    return rc;
  };
const attach: Step = (f) => {
  if (f.platformDevice === undefined) return f.mockReplace(f.stdev, f.nested);
  const r = f.log.dispatch({
    type: "iommufd.device.attach",
    data: { ctx: f.fd.ctx, devId: f.dev, ptId: f.nested },
  });
  return Array.isArray(r) ? 0 : -1;
};
const invalidate =
  (type: number, len: number): Step =>
  (f) => {
    const arg = bytes(32, [
      [0, 4, 32],
      [4, 4, f.nested],
      [8, 8, f.scratch + 0x100n],
      [16, 4, type],
      [20, 4, len],
      [24, 4, 1],
    ]);
    return f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_INVALIDATE, arg);
  };

const SEQUENCES: Record<string, [device: string | undefined, steps: Step[]]> = {
  mock_nested: [undefined, [bind, parent, nested(0xdead, 4), attach, invalidate(0xdeadbeef, 8)]],
  vtd_nested: ["accel0", [bind, parent, mapGuest, nested(1, 24), attach, invalidate(0, 24)]],
};

describe.each(Object.entries(SEQUENCES))("fail-nth sweep: %s", (_name, [device, seq]) => {
  it("every fallible step fails cleanly and closing frees everything", () => {
    const sites = sweepSteps(
      () => new Seq(device),
      seq,
      (f) => {
        const s = f.log.state;
        expect(s.iommufd.contexts).toEqual({});
        expect(s.iommufd.hwDomains).toEqual({});
        expect(s.iommufd.mockNested ?? {}).toEqual({});
        expect(s.iopt.ioas.size).toBe(0);
        expect(s.mockDomain.domains.size).toBe(0);
        expect(s.vtd.units.get(0)!.domains.size).toBe(0);
      },
    );
    // The nested allocation's own fault points were reached.
    expect(sites).toContain("iommufd.hwpt_nested_alloc");
    expect(sites).toContain(device === undefined ? "selftest.nested_domain_alloc" : "vtd.domain_alloc");
  });
});
