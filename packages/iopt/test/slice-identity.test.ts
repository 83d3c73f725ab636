/**
 * The iopt slice returned unchanged when an event only updated its tables
 * in place (evolve.ts `patch`): within an unsealed epoch an UNMAP of a
 * sole-holder area leaves `peek().iopt` the same object (so `combine` does
 * not copy the root), while a state taken with `log.state` (sealed) never
 * changes afterwards and the next change gives a new slice.
 */
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createIoptLog, mockDomainDescriptor } from "../src/index";

const BUF = 0x7000_0000_0000n;
const IOVA = 1n << 24n; // MOCK_APERTURE_START
const FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

function world() {
  const log = createIoptLog();
  const ok = (c: Parameters<typeof log.dispatch>[0]) => {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r.name}`);
  };
  ok({ type: "mm.spawn", data: { pid: 1, capIpcLock: true } });
  ok({ type: "mm.mmap", data: { pid: 1, addr: BUF, length: 4096n, prot: 3, shared: false } });
  ok({ type: "ioas.create", data: { ioas: 1 } });
  ok({ type: "iopt.mock.alloc", data: { domain: 2 } });
  ok({ type: "ioas.attach_domain", data: { ioas: 1, domain: mockDomainDescriptor(2) } });
  const map = () =>
    ok({ type: "ioas.map", data: { ioas: 1, pid: 1, userVa: BUF, length: 4096n, iova: IOVA, flags: FLAGS } });
  const unmap = () => ok({ type: "ioas.unmap", data: { ioas: 1, iova: IOVA, length: 4096n } });
  return { log, map, unmap };
}

describe("iopt slice identity", () => {
  it("an unmap that only updates tables in place keeps the slice object (unsealed epoch)", () => {
    const { log, map, unmap } = world();
    map();
    const before = log.peek().iopt;
    expect(before.ioas.get(1)!.areas).toHaveLength(1);
    unmap();
    const after = log.peek().iopt;
    expect(after).toBe(before);
    expect(after.ioas.get(1)!.areas).toHaveLength(0);
    expect(after.pages.size).toBe(0);
  });

  it("a sealed state keeps its contents; the next unmap gives a new slice", () => {
    const { log, map, unmap } = world();
    map();
    const sealed = log.state;
    unmap();
    expect(log.peek().iopt).not.toBe(sealed.iopt);
    expect(sealed.iopt.ioas.get(1)!.areas).toHaveLength(1);
    expect(sealed.iopt.pages.size).toBe(1);
    expect(log.peek().iopt.ioas.get(1)!.areas).toHaveLength(0);
  });
});
