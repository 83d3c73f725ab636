/**
 * Area splitting for VFIO type1 compatibility (Linux io_pagetable.c
 * iopt_cut_iova()/iopt_area_split(), vfio_compat.c
 * iommufd_vfio_unmap_dma(): with large pages disabled, a type1 unmap of part
 * of a mapping first cuts at both ends).
 */
import { describe, expect, it } from "vitest";
import { BUFFER_VA, MOCK_PAGE_SIZE, PAGE, MOCK_APERTURE_START as S, Sim } from "./fixture";

function world(disableLargePages: boolean) {
  const sim = new Sim();
  const ioas = sim.ioasAlloc();
  if (disableLargePages) sim.ok({ type: "ioas.set_huge_pages", data: { ioas, val64: 0n } });
  const domain = sim.mockDomain(ioas);
  sim.map(ioas, BUFFER_VA, 8n * PAGE, S);
  return { sim, ioas, domain };
}

describe("ioas.cut", () => {
  it("type1 partial unmap: cut at both ends, unmap the middle, the rest stays mapped and pinned", () => {
    const { sim, ioas, domain } = world(true);
    sim.ok({ type: "ioas.cut", data: { ioas, iovas: [S + 4n * PAGE - 1n, S + 2n * PAGE - 1n] } });
    expect(sim.state.iopt.ioas.get(ioas)!.areas.map((a) => [a.iova, a.last])).toEqual([
      [S, S + 2n * PAGE - 1n],
      [S + 2n * PAGE, S + 4n * PAGE - 1n],
      [S + 4n * PAGE, S + 8n * PAGE - 1n],
    ]);
    expect(sim.unmap(ioas, S + 2n * PAGE, 2n * PAGE)).toBe(2n * PAGE);
    sim.checkMap(domain, S, 2n * PAGE, BUFFER_VA);
    sim.checkMap(domain, S + 4n * PAGE, 4n * PAGE, BUFFER_VA + 4n * PAGE);
    // One iopt_pages still backs both remaining areas: its pages stay pinned once, the middle is released.
    sim.checkRefs(BUFFER_VA, 2n * PAGE, 1);
    sim.checkRefs(BUFFER_VA + 2n * PAGE, 2n * PAGE, 0);
    sim.checkRefs(BUFFER_VA + 4n * PAGE, 4n * PAGE, 1);
  });

  it("cuts at an area's edges or outside areas change nothing", () => {
    const { sim, ioas } = world(true);
    const r = sim.ok({
      type: "ioas.cut",
      data: { ioas, iovas: [S, S + 8n * PAGE - 1n, S - 1n, S + 100n * PAGE] },
    });
    expect(r.length).toBe(0);
  });

  it("EINVAL: large pages with a domain, a misaligned cut, an access holding the area", () => {
    const large = world(false);
    expect(large.sim.err({ type: "ioas.cut", data: { ioas: large.ioas, iovas: [S + PAGE - 1n] } })).toBe(
      "EINVAL",
    );
    const { sim, ioas } = world(true);
    expect(sim.err({ type: "ioas.cut", data: { ioas, iovas: [S + MOCK_PAGE_SIZE - 1n] } })).toBe("EINVAL");
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: S + 6n * PAGE, length: PAGE, write: false },
    });
    expect(sim.err({ type: "ioas.cut", data: { ioas, iovas: [S + PAGE - 1n] } })).toBe("EINVAL");
    expect(sim.state.iopt.ioas.get(ioas)!.areas.length).toBe(1);
  });
});
