/**
 * The selftest mock domain as a subsystem (root key `mockDomain`): domains
 * allocated with `iopt.mock.alloc` follow the `ioas.*` events of the IOAS
 * they are attached to, keeping their IO page table exactly in sync —
 * the pattern hardware domains (hw-vtd, hw-smmu) follow with their own
 * tables. It is the page table behind iommufd's selftest mock driver
 * (packages/iommufd/src/drivers/mock.ts), which allocates and frees these
 * domains and translates through them. Linux drivers/iommu/iommufd/selftest.c.
 */
import { FrameStore, type Subsystem } from "@iommu-sim/eventlog";
import { errno, MOCK_APERTURE_LAST, MOCK_APERTURE_START } from "@iommu-sim/uapi";
import { EpochMap } from "../epoch-map";
import type { IoptEvent, MockMessage } from "../iopt/messages";
import type { DomainDescriptor } from "../iopt/state";
import { MOCK_IO_PAGE, mockMapRange, mockUnmapRange } from "./page-table";

/** One mock domain: the IOAS it is attached to (if any) and its IO page table. */
export interface MockDomain {
  readonly id: number;
  readonly ioas?: number;
  readonly table: FrameStore;
}

/** The `mockDomain` slice. */
export interface MockDomainState {
  readonly domains: EpochMap<number, MockDomain>;
}

/** The descriptor iopt gets for a mock domain: 2 KiB IO pages, MOCK_APERTURE [2^24, 2^31 − 1]. */
export function mockDomainDescriptor(id: number): DomainDescriptor {
  return {
    id,
    ioPageSize: MOCK_IO_PAGE,
    apertureStart: BigInt(MOCK_APERTURE_START),
    apertureLast: BigInt(MOCK_APERTURE_LAST),
  };
}

type MockCommand = Extract<MockMessage, { type: "iopt.mock.alloc" | "iopt.mock.free" }>;
type MockEvent = Extract<MockMessage, { type: "iopt.mock.allocated" | "iopt.mock.freed" }> | IoptEvent;

/** The part of the root the mock domain reads. */
export interface MockRoot {
  readonly mockDomain: MockDomainState;
}

/** What a domain maps for one area (an `ioas.mapped` event or a `fill` entry). */
interface AreaFill {
  readonly iova: bigint;
  readonly length: bigint;
  readonly pfnRuns: readonly { pfn: number; count: number }[];
  readonly offset: number;
  readonly prot: number;
}

const IO_PAGE = BigInt(MOCK_IO_PAGE);

/** `d` with a new table (field by field: one object shape, no spread). */
function withTable(d: MockDomain, table: FrameStore): MockDomain {
  return d.ioas === undefined ? { id: d.id, table } : { id: d.id, ioas: d.ioas, table };
}

function mapArea(d: MockDomain, a: AreaFill): MockDomain {
  const index = Number(a.iova / IO_PAGE);
  const nio = Number(a.length / IO_PAGE);
  return withTable(d, mockMapRange(d.table, index, nio, a.pfnRuns, a.offset, a.prot));
}

/** `mockMapRange` (`fill`) or `mockUnmapRange` of IO pages [index, index + nio) in `d`. */
function apply(d: MockDomain, fill: AreaFill | undefined, index: number, nio: number): MockDomain {
  const table =
    fill === undefined
      ? mockUnmapRange(d.table, index, nio)
      : mockMapRange(d.table, index, nio, fill.pfnRuns, fill.offset, fill.prot);
  return withTable(d, table);
}

/**
 * Map (`fill`) or unmap (`fill` undefined: [iova, iova + length)) in every
 * domain attached to `ioas`. A plain loop rather than a callback: this runs
 * on every map and unmap. Replacing an existing key while iterating a Map
 * does not revisit it, and a copied map is a different object than the one
 * iterated.
 */
function forIoas(
  s: MockDomainState,
  ioas: number,
  fill: AreaFill | undefined,
  iova: bigint,
  length: bigint,
): MockDomainState {
  let domains = s.domains;
  let index = -1;
  let nio = 0;
  for (const d of s.domains.values()) {
    if (d.ioas !== ioas) continue;
    if (index < 0) {
      index = Number(iova / IO_PAGE);
      nio = Number(length / IO_PAGE);
    }
    domains = domains.with(d.id, apply(d, fill, index, nio));
  }
  return domains === s.domains ? s : { domains };
}

/** Apply an event to the mock domains. */
export function evolveMock(s: MockDomainState, e: MockEvent): MockDomainState {
  switch (e.type) {
    case "iopt.mock.allocated":
      return { domains: s.domains.with(e.data.domain, { id: e.data.domain, table: FrameStore.empty() }) };
    case "iopt.mock.freed":
      return { domains: s.domains.without(e.data.domain) };
    case "ioas.domain_attached": {
      const d = s.domains.get(e.data.domain.id);
      if (d === undefined) return s;
      let next: MockDomain = { ...d, ioas: e.data.ioas };
      for (const a of e.data.fill) next = mapArea(next, a);
      return { domains: s.domains.with(d.id, next) };
    }
    case "ioas.domain_detached": {
      const d = s.domains.get(e.data.domain);
      if (d === undefined) return s;
      return { domains: s.domains.with(d.id, { id: d.id, table: FrameStore.empty() }) };
    }
    case "ioas.mapped":
      if (e.data.pfnRuns.length === 0) return s;
      return forIoas(s, e.data.ioas, e.data, e.data.iova, e.data.length);
    case "ioas.unmapped":
      return forIoas(s, e.data.ioas, undefined, e.data.iova, e.data.length);
    default:
      return s;
  }
}

/** The mock-domain subsystem (list it after `iopt` in `combine`). */
export const mockDomainSubsystem: Subsystem<MockCommand, MockEvent, MockDomainState, MockRoot> = {
  commands: ["iopt.mock."],
  events: ["iopt.mock.", "ioas."],
  initialState: { domains: EpochMap.empty() },
  decide(s, c, ctx) {
    if (c.type === "iopt.mock.alloc") {
      if (s.domains.has(c.data.domain)) return errno("EEXIST", `mock domain ${c.data.domain} exists`);
      const e = ctx.step("mock.domain_alloc");
      if (e) return e;
      return [{ type: "iopt.mock.allocated", data: { domain: c.data.domain } }];
    }
    const d = s.domains.get(c.data.domain);
    if (d === undefined) return errno("ENOENT", `no mock domain ${c.data.domain}`);
    if (d.ioas !== undefined) return errno("EBUSY", "mock domain is attached");
    return [{ type: "iopt.mock.freed", data: { domain: c.data.domain } }];
  },
  evolve: evolveMock,
};
