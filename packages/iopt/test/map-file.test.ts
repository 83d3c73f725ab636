/**
 * IOMMU_IOAS_MAP_FILE (Linux ioas.c iommufd_ioas_map_file(),
 * io_pagetable.c iopt_map_file_pages()): areas backed by a file's page cache
 * rather than user memory. A process mapping the same file MAP_SHARED sees
 * the very frames the domain maps.
 */
import { stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import { IOMMU_IOAS_MAP_FIXED_IOVA, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { ioptDecider, readUser } from "../src/index";
import { PAGE, pattern, RW, MOCK_APERTURE_START as S, Sim, U64_MAX } from "./fixture";

function world() {
  const sim = new Sim();
  sim.ok({ type: "mm.file.create", data: { file: 5, length: 8n * PAGE } });
  const va = sim.mmap(8n * PAGE, { file: 5, shared: true });
  const ioas = sim.ioasAlloc();
  const domain = sim.mockDomain(ioas);
  const mapFile = (start: bigint, length: bigint, iova = S, file = 5) =>
    ({
      type: "ioas.map_file",
      data: { ioas, pid: 1, file, start, length, iova, flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA },
    }) as const;
  return { sim, va, ioas, domain, mapFile };
}

describe("IOMMU_IOAS_MAP_FILE", () => {
  it("the domain maps the file's page-cache frames, the same a MAP_SHARED user mapping sees", () => {
    const { sim, va, ioas, domain, mapFile } = world();
    sim.ok(mapFile(PAGE + 0x800n, 2n * PAGE));
    sim.checkMap(domain, S, 2n * PAGE, va + PAGE + 0x800n);
    sim.checkRefs(va + PAGE, 3n * PAGE, 1);
    sim.checkRefs(va, PAGE, 0);
    // A device write through an access reaches the file, as the process sees it.
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    const bytes = pattern(300, 9);
    sim.ok({ type: "iopt.access.write", data: { access, iova: S + 0x700n, bytes } });
    expect(readUser(sim.state.mm, 1, va + PAGE + 0x800n + 0x700n, 300)).toEqual(bytes);
  });

  it("errors: EBADF unknown file, EINVAL past the end of the file (shmem_get_folio), EINVAL zero length, EOVERFLOW wrap", () => {
    const { sim, mapFile } = world();
    expect(sim.err(mapFile(0n, PAGE, S, 99))).toBe("EBADF");
    expect(sim.err(mapFile(7n * PAGE, 2n * PAGE))).toBe("EINVAL");
    expect(sim.err(mapFile(0n, 0n))).toBe("EINVAL");
    expect(sim.err(mapFile(U64_MAX - PAGE + 2n, PAGE))).toBe("EOVERFLOW");
    expect(sim.state.iopt.pages.size).toBe(0);
  });

  it("fail-nth: every step of a file map fails without a trace", () => {
    const { sim, mapFile } = world();
    const cmd = mapFile(0n, 4n * PAGE);
    const report = sweepFailNth(ioptDecider(), sim.state, cmd);
    expect(report.steps).toBeGreaterThanOrEqual(3);
    const before = stateHash(sim.state);
    for (let n = 1; n <= report.steps; n++) {
      sim.log.failNth(n);
      expect(isErrno(sim.log.dispatch(cmd))).toBe(true);
      expect(stateHash(sim.state)).toBe(before);
    }
    sim.ok(cmd);
  });
});
