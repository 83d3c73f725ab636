/**
 * Benchmarks of the VT-d model's translation paths (issue #7):
 * `vtd.translate.hit` (IOTLB hits through the context/PASID caches),
 * `vtd.translate.walk` (4-level second-stage walks, IOTLB cold), and
 * `vtd.translate.nested` (4-level first stage over a 4-level second stage,
 * IOTLB cold: 5 second-stage walks per translation).
 *
 * Each state is built through the `vtd` subsystem; an IOTLB of capacity 0
 * keeps every translation a walk while the context and PASID caches stay warm.
 */
import { combine, createLog, FrameStore, type Subsystem } from "@iommu-sim/eventlog";
import { iommuHwptVtdS1, isErrno, type VtdCommand } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import {
  CAP,
  DEFAULT_CAP,
  FL,
  flEntry,
  IOMMU_READ,
  IOMMU_WRITE,
  type Mem,
  memOf,
  regBuild,
  translatePage,
  type VtdState,
  type VtdUnit,
  vtd,
} from "../src/index";

type Poke = { type: "mm.poke"; data: { pa: bigint; bytes: Uint8Array } };
type Written = { type: "mm.phys.written"; data: { pa: bigint; bytes: Uint8Array } };
const mm: Subsystem<Poke, Written, { ram: FrameStore }, unknown> = {
  commands: ["mm."],
  events: ["mm."],
  initialState: { ram: FrameStore.empty() },
  decide: (_s, c) => [{ type: "mm.phys.written", data: c.data }],
  evolve: (s, e) => ({ ram: s.ram.write(Number(e.data.pa), e.data.bytes) }),
};

const RID = 0x0310;
const PAGES = 64;
const OPS = 200_000;
/** 4-level only: SAGAW bit 2 (48-bit), MGAW 47. */
const CAP_4LEVEL =
  (DEFAULT_CAP & ~(0x1fn << 8n) & ~(0x3fn << 16n)) | regBuild(CAP, { SAGAW: 0b00100, MGAW: 47 });

function build(iotlbSize: number, nested: boolean): { unit: VtdUnit; mem: Mem; pasid: number; base: number } {
  const log = createLog(combine({ mm, vtd }));
  const run = (c: VtdCommand | Poke) => {
    const r = log.dispatch(c as never);
    if (isErrno(r)) throw new Error(`${c.type}: ${r.toString()}`);
  };
  run({ type: "vtd.unit.add", data: { unit: 0, cap: CAP_4LEVEL, iotlbSize } });
  run({ type: "vtd.domain.alloc", data: { unit: 0, nestParent: nested } });
  let base = 0x10_0000;
  let pasid = -1;
  if (!nested) {
    // pfn 0x501 is not 2 MiB aligned: every page is a 4 KiB leaf, every walk 4 levels.
    run({
      type: "vtd.domain.map",
      data: {
        unit: 0,
        did: 2,
        iova: 0x10_0000n,
        pfnRuns: [{ pfn: 0x501, count: PAGES }],
        prot: IOMMU_READ | IOMMU_WRITE,
      },
    });
    run({ type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
  } else {
    // Guest RAM GPA [0, 16 MiB) at HPA 0x1000_1000 + GPA, in 4 KiB second-stage leaves.
    const hpa = (gpa: number) => 0x1000_1000 + gpa;
    run({
      type: "vtd.domain.map",
      data: {
        unit: 0,
        did: 2,
        iova: 0n,
        pfnRuns: [{ pfn: 0x1_0001, count: 4096 }],
        prot: IOMMU_READ | IOMMU_WRITE,
      },
    });
    const dir = FL.P | FL.RW | FL.US;
    const poke = (pa: number, v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      run({ type: "mm.poke", data: { pa: BigInt(pa), bytes: b } });
    };
    // iova 0x7f12_3440_0000 + i·4 KiB: PML4 0xfe, PDPT 0x48, PD 0x1a2, PT i.
    poke(hpa(0x1000 + 0xfe * 8), flEntry(2, dir));
    poke(hpa(0x2000 + 0x48 * 8), flEntry(3, dir));
    poke(hpa(0x3000 + 0x1a2 * 8), flEntry(4, dir));
    for (let i = 0; i < PAGES; i++) poke(hpa(0x4000 + i * 8), flEntry(0x100 + i, dir));
    const data = iommuHwptVtdS1.encode({ flags: 0n, pgtbl_addr: 0x1000n, addr_width: 48 });
    run({ type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data } });
    run({ type: "vtd.device.attach", data: { unit: 0, rid: RID, pasid: 5, did: 3 } });
    base = 0x7f12_3440_0000;
    pasid = 5;
  }
  // Warm the caches with one DMA per page.
  for (let i = 0; i < PAGES; i++)
    run({
      type: "vtd.dma",
      data: {
        unit: 0,
        rid: RID,
        ...(pasid >= 0 ? { pasid } : {}),
        iova: BigInt(base + i * 4096),
        length: 8,
        write: false,
      },
    });
  const root = log.state as unknown as { vtd: VtdState; mm: { ram: FrameStore } };
  const unit = root.vtd.units.get(0)!;
  return { unit, mem: memOf(unit, root.mm.ram), pasid, base };
}

let sink = 0;
// A module-local binding: a transpiled import is a getter call per use.
const translateOne = translatePage;

function loop(s: { unit: VtdUnit; mem: Mem; pasid: number; base: number }): void {
  const vpn0 = s.base / 4096;
  let acc = 0;
  for (let i = 0; i < OPS; i++) {
    const r = translateOne(s.unit, s.mem, RID, s.pasid, vpn0 + (i & (PAGES - 1)), 0);
    if (r < 0) throw new Error(`fault 0x${(-r).toString(16)}`);
    acc += r;
  }
  sink += acc;
}

let hit: ReturnType<typeof build>;
let walk: ReturnType<typeof build>;
let nestedState: ReturnType<typeof build>;

const cases: BenchCase[] = [
  {
    name: "vtd.translate.hit",
    kind: "throughput",
    unit: "translations/s",
    target: { op: ">=", value: 10_000_000 },
    doc: "translatePage on 64 IOTLB-resident pages: context cache, PASID cache, IOTLB hit, permission check",
    opsPerIteration: OPS,
    setup() {
      hit = build(4096, false);
    },
    iteration: () => loop(hit),
  },
  {
    name: "vtd.translate.walk",
    kind: "throughput",
    unit: "walks/s",
    target: { op: ">=", value: 2_000_000 },
    doc: "translatePage with a cold IOTLB (capacity 0): 4-level second-stage walk of 4 KiB leaves in table memory",
    opsPerIteration: OPS,
    setup() {
      walk = build(0, false);
    },
    iteration: () => loop(walk),
  },
  {
    name: "vtd.translate.nested",
    kind: "throughput",
    unit: "walks/s",
    target: { op: ">=", value: 300_000 },
    doc: "translatePage with a cold IOTLB: 4-level first stage in RAM, each table and the result through a 4-level second stage",
    opsPerIteration: OPS,
    setup() {
      nestedState = build(0, true);
    },
    iteration: () => loop(nestedState),
    teardown() {
      if (sink === -1) console.log(sink);
    },
  },
];

export default cases;
