/** Benchmarks of the SMMUv3 model's translation paths (issue #8). */
import type { BenchCase } from "../../../bench/harness";
import { encodeCd, type SmmuInstance, s1Tag, Translator, tlbLookup } from "../src/index";
import { type Log, ok, ram64, ramWords, withSmmu } from "../test/fixture";

const PAGES = 256;
const ROUNDS = 400;

let hit: Translator;
let walker: Translator;
let nested: Translator;
let hitInst: SmmuInstance;
let sink = 0;

/** A stage-1 domain mapping PAGES pages at IOVA 0, attached to SID 1; every page touched once (STE, CD, TLB filled). */
function stage1(tlbEntries: number): Log {
  const log = withSmmu({ tlbEntries });
  ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s1" } });
  ok(log, {
    type: "smmu.domain.map",
    data: { instance: 0, domain: 1, iova: 0n, pfnRuns: [{ pfn: 0x1000, count: PAGES }], prot: 3 },
  });
  ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 1, sid: 1 } });
  for (let p = 0; p < PAGES; p++)
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 1, iova: BigInt(p) << 12n, length: 4, write: false },
    });
  return log;
}

/** Nested SID 8: guest CD + 3-level stage-1 tables in RAM, host stage 2 (4 levels) under it; config cached, TLB off. */
function nestedLog(): Log {
  const log = withSmmu({ tlbEntries: 0 });
  ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s2" } });
  ok(log, {
    type: "smmu.domain.map",
    data: { instance: 0, domain: 1, iova: 0n, pfnRuns: [{ pfn: 0x4_0000, count: 1024 }], prot: 3 },
  });
  const G = 0x4000_0000;
  ramWords(
    log,
    G + 0x1000,
    encodeCd({ t0sz: 25, v: true, ips: 5, aa64: true, r: true, asid: 3, ttb0: 0x2000 }),
  );
  ram64(log, G + 0x2000, 0x3000n | 3n);
  ram64(log, G + 0x3000, 0x4000n | 3n);
  for (let p = 0; p < PAGES; p++) ram64(log, G + 0x4000 + p * 8, BigInt(0x10_0000 + p * 4096) | 0x743n);
  ok(log, { type: "smmu.domain.allocNested", data: { instance: 0, parent: 1, ste: [0x1000n | 0xbn, 0n] } });
  ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 2, sid: 8 } });
  ok(log, { type: "smmu.dma", data: { instance: 0, sid: 8, iova: 0n, length: 4, write: false } });
  return log;
}

function translator(log: Log): Translator {
  const t = new Translator(log.state.smmu.instances.get(0)!, log.state.mm.ram);
  t.keepFills = false;
  return t;
}

/**
 * One loop per case (not a shared helper), so each call site's type feedback
 * sees one path only — hits, walks or nested walks — as a device's stream would.
 */
function hitLoop(): void {
  let s = 0;
  for (let r = 0; r < ROUNDS; r++)
    for (let p = 0; p < PAGES; p++) {
      if (!hit.translate(1, -1, p * 4096 + 0x10, false, false)) throw new Error("translation failed");
      s += hit.pa;
    }
  sink += s;
}

function walkLoop(): void {
  let s = 0;
  for (let r = 0; r < ROUNDS; r++)
    for (let p = 0; p < PAGES; p++) {
      if (!walker.translate(1, -1, p * 4096 + 0x10, false, false)) throw new Error("translation failed");
      s += walker.pa;
    }
  sink += s;
}

function nestedLoop(): void {
  let s = 0;
  for (let r = 0; r < ROUNDS; r++)
    for (let p = 0; p < PAGES; p++) {
      if (!nested.translate(8, -1, p * 4096 + 0x10, false, false)) throw new Error("translation failed");
      s += nested.pa;
    }
  sink += s;
}

const cases: BenchCase[] = [
  {
    name: "smmu.translate.hit",
    kind: "throughput",
    unit: "translations/s",
    target: { op: ">=", value: 10_000_000 },
    doc: "Translator.translate on a TLB hit (STE and CD from the config cache), stage 1, 256 pages × 400 rounds",
    opsPerIteration: PAGES * ROUNDS,
    setup() {
      hit = translator(stage1(512));
    },
    iteration() {
      hitLoop();
    },
  },
  {
    name: "smmu.tlb.lookup",
    kind: "throughput",
    unit: "lookups/s",
    target: { op: ">=", value: 10_000_000 },
    doc: "tlbLookup alone (the allocation-free TLB hit path), 256 pages × 400 rounds",
    opsPerIteration: PAGES * ROUNDS,
    setup() {
      hitInst = stage1(512).state.smmu.instances.get(0)!;
    },
    iteration() {
      const tag = s1Tag(0, 1);
      let s = 0;
      for (let r = 0; r < ROUNDS; r++)
        for (let p = 0; p < PAGES; p++) s += tlbLookup(hitInst.tlb, tag, p * 4096)!.pa;
      sink += s;
    },
  },
  {
    name: "smmu.translate.walk",
    kind: "throughput",
    unit: "translations/s",
    target: { op: ">=", value: 2_000_000 },
    doc: "Translator.translate with the TLB disabled: a 4-level stage-1 walk per translation (config cached)",
    opsPerIteration: PAGES * ROUNDS,
    setup() {
      walker = translator(stage1(0));
    },
    iteration() {
      walkLoop();
    },
  },
  {
    name: "smmu.translate.nested",
    kind: "throughput",
    unit: "translations/s",
    target: { op: ">=", value: 300_000 },
    doc: "nested walk, TLB disabled: 3-level guest stage 1 whose 3 table fetches and output each take a 4-level stage-2 walk",
    opsPerIteration: PAGES * ROUNDS,
    setup() {
      nested = translator(nestedLog());
    },
    iteration() {
      nestedLoop();
    },
  },
];

export default cases;
/** Keeps the loops' results observable. */
export { sink as benchSink };
