/** Benchmarks of the PASID allocator (issue #6). */
import { combine, createLog, type EventLog, type Snapshot } from "@iommu-sim/eventlog";
import type { IoasidCommand, IoasidEvent } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { createIoasid, type IoasidState, PasidBitmap } from "../src/index";

const BITS = 20;
const CAP = 2 ** BITS;
/** 1% of the 20-bit space left free, scattered: 10,485 holes. */
const HOLES = Math.floor(CAP / 100);
const PAIRS = 100_000;

/** A deterministic xorshift32 stream (no Math.random: the same layout every run). */
function* xorshift(seed: number): Generator<number> {
  let x = seed >>> 0;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

/** Ids to leave free: HOLES distinct pseudo-random ids in [1, CAP). */
function holes(): number[] {
  const rnd = xorshift(0x1234567);
  const out = new Set<number>();
  while (out.size < HOLES) out.add(1 + (rnd.next().value! % (CAP - 1)));
  return [...out];
}

/** Search starts spread over the space, so every search walks a different part of the summaries. */
function starts(n: number, below: number): Uint32Array {
  const rnd = xorshift(0x9e3779b9);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = rnd.next().value! % below;
  return out;
}

let bitmap: PasidBitmap;
let mins: Uint32Array;

type Root = { readonly ioasid: IoasidState };
let log: EventLog<IoasidCommand, IoasidEvent, Root>;
let filled: Snapshot<Root>;
const DISPATCH_PAIRS = 20_000;
const PID = 1;
let fd = 0;

const cases: BenchCase[] = [
  {
    name: "ioasid.allocFree",
    kind: "throughput",
    unit: "pairs/s",
    target: { op: ">=", value: 1_000_000 },
    doc: "PasidBitmap: lowest free PASID in [start, 2^20) then free it, 100k pairs, in a 20-bit space 99% full with 10,485 scattered holes; starts pseudo-random",
    opsPerIteration: PAIRS,
    setup() {
      let b = PasidBitmap.empty(BITS);
      for (let id = 0; id < CAP; id++) b = b.set(id);
      for (const id of holes()) b = b.clear(id);
      bitmap = b;
      // Starts below the last ~1% so a hole always lies above (the highest hole is near the top).
      mins = starts(PAIRS, CAP - 20_000);
    },
    iteration() {
      let b = bitmap;
      for (let i = 0; i < PAIRS; i++) {
        const id = b.lowestClear(mins[i]!, CAP - 1);
        b = b.set(id).clear(id);
      }
      bitmap = b;
    },
  },
  {
    name: "ioasid.allocFree.dispatch",
    kind: "throughput",
    unit: "pairs/s",
    doc: "the same through the event log: ioasid.alloc {min: pseudo-random} + ioasid.free dispatched by one process on the 99%-full space, 20k pairs (decide, 4 events, evolve)",
    opsPerIteration: DISPATCH_PAIRS,
    setup() {
      const ioasid = createIoasid<Root>({ devices: () => undefined });
      log = createLog(combine({ ioasid }), { snapshotEvery: 1 << 30 }) as typeof log;
      const opened = log.dispatch({ type: "ioasid.open", data: { pid: PID } });
      if ("name" in opened) throw new Error(opened.toString());
      fd = (opened.at(-1)!.data as { fd: number }).fd;
      // Fill through evolve alone (no decide) to build the 99%-full space quickly.
      const holeSet = new Set(holes());
      let state = log.state;
      const decider = log.decider;
      for (let pasid = 1; pasid < CAP; pasid++) {
        if (holeSet.has(pasid)) continue;
        state = decider.evolve(state, { type: "pasid.allocated", data: { pasid, use: "ioasid", mm: PID } });
      }
      log.restore({ seq: log.seq, state });
      filled = log.snapshot();
      mins = starts(DISPATCH_PAIRS, CAP - 20_000);
    },
    beforeEach() {
      // Start every iteration from the filled space with an empty record list.
      log.restore(filled);
    },
    iteration() {
      for (let i = 0; i < DISPATCH_PAIRS; i++) {
        const r = log.dispatch({ type: "ioasid.alloc", data: { pid: PID, fd, min: mins[i]!, max: CAP - 1 } });
        if ("name" in r) throw new Error(r.toString());
        const pasid = (r[1]!.data as { pasid: number }).pasid;
        log.dispatch({ type: "ioasid.free", data: { pid: PID, fd, pasid } });
      }
    },
  },
];

export default cases;
