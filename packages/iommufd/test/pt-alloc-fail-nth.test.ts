/**
 * IO page-table pages as fail-nth points (drivers/map-steps.ts): Linux's
 * iommu_map() can fail with ENOMEM where the driver allocates a table page
 * (VT-d pfn_to_dma_pte(), io-pgtable-arm __arm_lpae_alloc_pages()), under
 * IOMMU_IOAS_MAP / COPY and under attach, which fills a new domain. The
 * map_domain / map_two_domains sequences of Linux's iommufd_fail_nth.c on
 * the hardware models (nic0 on VT-d unit 0, gpu0 on SMMU instance 0):
 * every Nth fallible step fails cleanly — also `vtd.pt_alloc` and
 * `smmu.pt_alloc` — and closing frees everything.
 *
 * Golden counts: a 4 KiB map into an empty table allocates one table per
 * level below the root — VT-d unit 0 has the 57-bit AGAW (SAGAW 5-level,
 * VT-d spec 3.4 §3.7: second-stage levels 5..1): 4; SMMUv3 48-bit IA with
 * the 4 KiB granule (Arm ARM D8.2: lookup levels 0..3): 3. A second map
 * 1 GiB away shares the upper tables and allocates the last 2 levels'.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const IOVA = 0x10_0000n;
const GiB = 0x4000_0000n;

/** Fixture(0) with nic0 (VT-d unit 0) and gpu0 (SMMU instance 0) bound, not attached. */
class HwFixture extends Fixture {
  readonly devs = new Map<string, number>();
  constructor() {
    super(0);
    for (const device of ["nic0", "gpu0"]) {
      const b = this.log.dispatch({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device } });
      if (isErrno(b)) throw new Error(`bind ${device}: ${b}`);
      this.devs.set(device, (b[0]!.data as { id: number }).id);
    }
  }
}

/** One step of a sequence: one dispatched command; returns 0 or a negative errno. */
type Step = (f: HwFixture) => number;

const map: (iova: bigint, pages: bigint) => Step = (iova, pages) => (f) => f.map(pages * PAGE, iova)[0];
const unmap: (iova: bigint, pages: bigint) => Step = (iova, pages) => (f) => f.unmap(iova, pages * PAGE);
/** Attach bound device `device` to the fixture's IOAS: a new auto domain, filled. */
const attach: (device: string) => Step = (device) => (f) => {
  const devId = f.devs.get(device)!;
  const r = f.log.dispatch({ type: "iommufd.device.attach", data: { ctx: f.fd.ctx, devId, ptId: f.ioas } });
  return isErrno(r) ? r.ret : 0;
};

const SEQUENCES: Record<string, Step[]> = {
  map_domain_vtd: [attach("nic0"), map(IOVA, 8n), unmap(IOVA, 8n), map(IOVA, 2n)],
  map_domain_smmu: [attach("gpu0"), map(IOVA, 8n), unmap(IOVA, 8n), map(IOVA, 2n)],
  map_two_domains: [attach("nic0"), map(IOVA, 8n), attach("gpu0"), map(IOVA + GiB, 1n), unmap(IOVA, 8n)],
};

/**
 * Run `step` with fault injection armed at a step it never reaches, so the
 * log reports every site; @returns its result and the `pt_alloc` sites, sorted.
 */
function counted(f: Fixture, step: (f: never) => number): [number, string[]] {
  f.log.failNth(1_000_000);
  const r = step(f as never);
  return [r, f.log.lastSteps.sites.filter((s) => s.endsWith(".pt_alloc")).sort()];
}

const vtd = (n: number) => Array<string>(n).fill("vtd.pt_alloc");
const smmu = (n: number) => Array<string>(n).fill("smmu.pt_alloc");

describe("IO page-table page allocation counts (golden: one table per level below the root)", () => {
  it("a first 4 KiB map takes 4 VT-d (5-level) and 3 SMMU (4-level) steps; a map 1 GiB away takes 2 each", () => {
    const f = new HwFixture();
    expect(attach("nic0")(f)).toBe(0);
    expect(attach("gpu0")(f)).toBe(0);
    expect(counted(f, map(IOVA, 1n))).toEqual([0, [...smmu(3), ...vtd(4)]]);
    expect(counted(f, map(IOVA + PAGE, 1n))).toEqual([0, []]); // the same leaf tables
    expect(counted(f, map(IOVA + GiB, 1n))).toEqual([0, [...smmu(2), ...vtd(2)]]);
  });

  it("attach fills a new domain: its tables are allocated then (one per level for areas under one leaf table)", () => {
    const f = new HwFixture();
    expect(map(IOVA, 4n)(f)).toBe(0);
    expect(map(IOVA + 16n * PAGE, 2n)(f)).toBe(0);
    expect(counted(f, attach("nic0"))).toEqual([0, vtd(4)]);
    // Two areas 1 GiB apart share the top two tables: 3 + 2.
    expect(map(IOVA + GiB, 1n)(f)).toBe(0);
    expect(counted(f, attach("gpu0"))).toEqual([0, smmu(5)]);
  });

  it("IOAS_COPY of two source areas into a VT-d domain: one leaf path, counted once (4)", () => {
    const f = new HwFixture();
    expect(map(IOVA, 2n)(f)).toBe(0);
    expect(map(IOVA + 2n * PAGE, 2n)(f)).toBe(0);
    const dst = f.ioasAlloc();
    const devId = f.devs.get("nic0")!;
    const a = f.log.dispatch({ type: "iommufd.device.attach", data: { ctx: f.fd.ctx, devId, ptId: dst } });
    expect(isErrno(a)).toBe(false);
    // struct iommu_ioas_copy {size, flags, dst_ioas_id, src_ioas_id, length, dst_iova, src_iova}: 40 bytes
    const copy = bytes(40, [
      [0, 4, 40],
      [4, 4, 1 | 2 | 4], // FIXED_IOVA | WRITEABLE | READABLE
      [8, 4, dst],
      [12, 4, f.ioas],
      [16, 8, 4n * PAGE],
      [24, 8, IOVA],
      [32, 8, IOVA],
    ]);
    expect(counted(f, (g: Fixture) => g.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_COPY, copy))).toEqual([0, vtd(4)]);
  });

  it("the mock domain allocates no table pages", () => {
    const f = new Fixture(1);
    expect(counted(f, (g: Fixture) => g.map(PAGE, g.base)[0])).toEqual([0, []]);
  });
});

describe.each(Object.entries(SEQUENCES))("fail-nth sweep with hardware domains: %s", (_name, seq) => {
  it("every fallible step, table pages included, fails cleanly and closing frees everything", () => {
    const failedAt = new Set<string>();
    for (let n = 1; n < 10_000; n++) {
      const f = new HwFixture();
      let remaining = n;
      let failed = false;
      for (const step of seq) {
        const before = stateHash(f.log.state);
        f.log.failNth(remaining);
        const r = step(f);
        const steps = f.log.lastSteps;
        if (steps.fired) {
          expect(r, `step ${n} must fail`).toBeLessThan(0);
          expect(stateHash(f.log.state), `step ${n} left a trace`).toBe(before);
          failedAt.add(steps.sites[steps.sites.length - 1]!.split(".")[1]!);
          failed = true;
          break;
        }
        expect(r).toBe(0);
        remaining -= steps.sites.length;
      }
      f.fd.close();
      const s = f.log.state;
      expect(s.iopt.ioas.size).toBe(0);
      expect(s.iopt.pages.size).toBe(0);
      expect(Object.keys(s.iommufd.hwDomains)).toEqual([]);
      if (!failed) break;
    }
    expect(failedAt).toContain("pt_alloc");
  });
});
