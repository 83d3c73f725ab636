/**
 * Given/when/then specifications of the event shapes (docs/CONVENTIONS.md):
 * the exact events of map, unmap, copy, attach and detach. IOVAs, lengths,
 * offsets and prot come from the commands and Linux's rules; the frame
 * numbers are whatever the given state's process page table holds.
 */
import { specify } from "@iommu-sim/eventlog";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { ioptDecider, lookupPage, mockDomainDescriptor, pinCount } from "../src/index";
import { BUFFER_VA, MOCK_APERTURE_START, PAGE, Sim, U64_MAX } from "./fixture";

/** A state with buffer pages 0 and 1 faulted in, IOAS `ioas`, and (optionally) mock domain 9 attached. */
function given(domain: boolean) {
  const sim = new Sim();
  sim.write(BUFFER_VA, new Uint8Array(Number(2n * PAGE)).fill(1));
  const ioas = sim.ioasAlloc();
  if (domain) {
    sim.ok({ type: "iopt.mock.alloc", data: { domain: 9 } });
    sim.ok({ type: "ioas.attach_domain", data: { ioas, domain: mockDomainDescriptor(9) } });
  }
  const pfn = (i: bigint) => lookupPage(sim.state.mm, 1, Number((BUFFER_VA + i * PAGE) / PAGE)) as number;
  return { sim, ioas, spec: specify(ioptDecider()).given([], sim.state), pfn };
}

describe("event specifications", () => {
  it("map without a domain: one event creates the pages, nothing pinned, no frames", () => {
    const { ioas, spec, sim } = given(false);
    spec
      .when({
        type: "ioas.map",
        data: {
          ioas,
          pid: 1,
          userVa: BUFFER_VA + 0x800n,
          length: PAGE,
          iova: 0x5000n,
          flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        },
      })
      .thenEvents([
        {
          type: "ioas.mapped",
          data: {
            ioas,
            iova: 0x5000n,
            length: PAGE,
            pages: sim.state.iopt.nextPages,
            startByte: 0x800n,
            prot: 1,
            pfnRuns: [],
            offset: 0x800,
            created: { pid: 1, uptr: BUFFER_VA, npages: 2n, writable: false, accountMode: 0 },
          },
        },
      ])
      .thenState((s) => expect(s.iopt.pages.get(sim.state.iopt.nextPages)?.pinned).toEqual([]));
  });

  it("map with a domain: one event pins the two pages spanned and hands the domain their frames and offset", () => {
    const { ioas, spec, sim, pfn } = given(true);
    const pages = sim.state.iopt.nextPages;
    const runs =
      pfn(1n) === pfn(0n) + 1
        ? [{ pfn: pfn(0n), count: 2 }]
        : [
            { pfn: pfn(0n), count: 1 },
            { pfn: pfn(1n), count: 1 },
          ];
    spec
      .when({
        type: "ioas.map",
        data: {
          ioas,
          pid: 1,
          userVa: BUFFER_VA + 0x800n,
          length: PAGE,
          iova: MOCK_APERTURE_START + 0x800n,
          flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        },
      })
      .thenEvents([
        {
          type: "ioas.mapped",
          data: {
            ioas,
            iova: MOCK_APERTURE_START + 0x800n,
            length: PAGE,
            pages,
            startByte: 0x800n,
            prot: 3,
            pfnRuns: runs,
            offset: 0x800,
            created: { pid: 1, uptr: BUFFER_VA, npages: 2n, writable: true, accountMode: 0 },
          },
        },
      ])
      .thenState((s) => {
        expect(pinCount(s.iopt.pinCounts, pfn(0n))).toBe(1);
        expect(pinCount(s.iopt.pinCounts, pfn(1n))).toBe(1);
      });
  });

  it("unmap all: the area's event ends its pages (unpinned, freed)", () => {
    const { ioas, sim, pfn } = given(true);
    sim.map(ioas, BUFFER_VA, PAGE, MOCK_APERTURE_START);
    const pages = sim.state.iopt.nextPages - 1;
    specify(ioptDecider())
      .given([], sim.state)
      .when({ type: "ioas.unmap", data: { ioas, iova: 0n, length: U64_MAX } })
      .thenEvents([
        {
          type: "ioas.unmapped",
          data: { ioas, iova: MOCK_APERTURE_START, length: PAGE, pagesDestroyed: true },
        },
      ])
      .thenState((s) => {
        expect(s.iopt.pages.has(pages)).toBe(false);
        expect(pinCount(s.iopt.pinCounts, pfn(0n))).toBe(0);
      });
  });

  it("unmap of two areas sharing pages (a copy): only the last area's event ends them", () => {
    const { ioas, sim } = given(true);
    sim.map(ioas, BUFFER_VA, 2n * PAGE, MOCK_APERTURE_START);
    sim.ok({
      type: "ioas.copy",
      data: {
        dstIoas: ioas,
        srcIoas: ioas,
        srcIova: MOCK_APERTURE_START,
        dstIova: MOCK_APERTURE_START + 4n * PAGE,
        length: PAGE,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
      },
    });
    const pages = sim.state.iopt.nextPages - 1;
    specify(ioptDecider())
      .given([], sim.state)
      .when({ type: "ioas.unmap", data: { ioas, iova: 0n, length: U64_MAX } })
      .thenEvents([
        { type: "ioas.unmapped", data: { ioas, iova: MOCK_APERTURE_START, length: 2n * PAGE } },
        {
          type: "ioas.unmapped",
          data: { ioas, iova: MOCK_APERTURE_START + 4n * PAGE, length: PAGE, pagesDestroyed: true },
        },
      ])
      .thenState((s) => expect(s.iopt.pages.has(pages)).toBe(false));
  });

  it("unmap of one of two areas sharing pages: the pages stay, the unshared page is unpinned", () => {
    const { ioas, sim } = given(true);
    sim.map(ioas, BUFFER_VA, 2n * PAGE, MOCK_APERTURE_START);
    sim.ok({
      type: "ioas.copy",
      data: {
        dstIoas: ioas,
        srcIoas: ioas,
        srcIova: MOCK_APERTURE_START,
        dstIova: MOCK_APERTURE_START + 4n * PAGE,
        length: PAGE,
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
      },
    });
    const pages = sim.state.iopt.nextPages - 1;
    specify(ioptDecider())
      .given([], sim.state)
      .when({ type: "ioas.unmap", data: { ioas, iova: MOCK_APERTURE_START, length: 2n * PAGE } })
      .thenEvents([
        { type: "ioas.unmapped", data: { ioas, iova: MOCK_APERTURE_START, length: 2n * PAGE } },
        { type: "iopt.pages_unpinned", data: { pages, index: 1n, count: 1n } },
      ]);
  });

  it("attach: aperture reserved on both sides, areas pinned and listed for the fill", () => {
    const { ioas, sim, pfn } = given(false);
    sim.map(ioas, BUFFER_VA, PAGE, MOCK_APERTURE_START);
    const pages = sim.state.iopt.nextPages - 1;
    sim.ok({ type: "iopt.mock.alloc", data: { domain: 9 } });
    const d = mockDomainDescriptor(9);
    specify(ioptDecider())
      .given([], sim.state)
      .when({ type: "ioas.attach_domain", data: { ioas, domain: d } })
      .thenEvents([
        { type: "ioas.reserved", data: { ioas, start: 0n, last: MOCK_APERTURE_START - 1n, owner: 9 } },
        { type: "ioas.reserved", data: { ioas, start: 1n << 31n, last: U64_MAX, owner: 9 } },
        { type: "iopt.pages_pinned", data: { pages, index: 0n, pfnRuns: [{ pfn: pfn(0n), count: 1 }] } },
        {
          type: "ioas.domain_attached",
          data: {
            ioas,
            domain: d,
            iovaAlignment: 2048n,
            fill: [
              {
                iova: MOCK_APERTURE_START,
                length: PAGE,
                pfnRuns: [{ pfn: pfn(0n), count: 1 }],
                offset: 0,
                prot: 3,
              },
            ],
          },
        },
      ]);
  });

  it("detach of the last domain: reserved ranges go, pages unpinned, alignment back to 1", () => {
    const { ioas, sim } = given(true);
    sim.map(ioas, BUFFER_VA, PAGE, MOCK_APERTURE_START);
    const pages = sim.state.iopt.nextPages - 1;
    specify(ioptDecider())
      .given([], sim.state)
      .when({ type: "ioas.detach_domain", data: { ioas, domain: 9 } })
      .thenEvents([
        { type: "ioas.domain_detached", data: { ioas, domain: 9, iovaAlignment: 1n } },
        { type: "ioas.unreserved", data: { ioas, owner: 9 } },
        { type: "iopt.pages_unpinned", data: { pages, index: 0n, count: 1n } },
      ]);
  });

  it("errors of map in Linux's order", () => {
    const { ioas, spec } = given(true);
    const m = (
      o: Partial<{ userVa: bigint; length: bigint; iova: bigint; flags: number; ioas: number }>,
    ) => ({
      type: "ioas.map" as const,
      data: { ioas, pid: 1, userVa: BUFFER_VA, length: PAGE, iova: MOCK_APERTURE_START, flags: 7, ...o },
    });
    spec.when(m({ flags: 1 << 3 })).thenFails("EOPNOTSUPP");
    spec.when(m({ length: U64_MAX })).thenFails("EOVERFLOW");
    spec.when(m({ iova: U64_MAX })).thenFails("EOVERFLOW");
    spec.when(m({ flags: IOMMU_IOAS_MAP_FIXED_IOVA })).thenFails("EINVAL");
    spec.when(m({ ioas: 999 })).thenFails("ENOENT");
    spec.when(m({ length: 0n })).thenFails("EINVAL");
    spec.when(m({ length: 1000n })).thenFails("EINVAL");
    spec.when(m({ iova: MOCK_APERTURE_START + 1024n })).thenFails("EINVAL");
    spec.when(m({ iova: 0n })).thenFails("EINVAL");
    spec.when(m({ iova: (1n << 31n) - PAGE, length: 2n * PAGE })).thenFails("EINVAL");
    spec.when(m({ userVa: 0x1000n })).thenFails("EFAULT");
  });
});
