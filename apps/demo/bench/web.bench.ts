/**
 * Benchmarks of the web view's engine, run in Node (the page runs the same
 * code): loading a log into the viewer, and rebuilding the state at a
 * slider position.
 */
import { createLog, type EventLog, encodeLog, type Message, stateHash } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import { createEmptyVfioSystemLog } from "@iommu-sim/vfio-compat";
import type { BenchCase } from "../../../bench/harness";
import { runStory } from "../src/story/run";
import { Checkpoints } from "../web/src/checkpoints";
import { faultsView } from "../web/src/faults";
import { loadLog, VIEWER_SNAPSHOT_EVERY } from "../web/src/load";
import { smmuInstances } from "../web/src/smmu";
import { stateStep } from "../web/src/states";
import { defaultSystem, type ViewerRoot } from "../web/src/system";
import { vtdUnits } from "../web/src/vtd";

/**
 * A session of `cycles` rounds, each: open /dev/iommu, IOASID_REQUEST_ALLOC
 * twice, free the first PASID, close the context (13 records a round with
 * today's events) over both composed subsystems.
 */
function sessionText(cycles: number): { text: string; records: number } {
  const log = createLog(defaultSystem(), { snapshotEvery: 1 << 30 });
  const run = (c: Message) => {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r.toString()}`);
    return r;
  };
  run({ type: "ioasid.open", data: { pid: 100 } });
  for (let i = 0; i < cycles; i++) {
    const ctx = (run({ type: "iommufd.open", data: { pid: 100, vfio: false } })[0]!.data as { ctx: number })
      .ctx;
    const alloc = { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } };
    const first = run(alloc).find((e) => e.type === "pasid.allocated")!.data as { pasid: number };
    run(alloc);
    run({ type: "ioasid.free", data: { pid: 100, fd: 1, pasid: first.pasid } });
    run({ type: "iommufd.close", data: { ctx } });
  }
  return { text: encodeLog(log.records), records: log.seq };
}

/** The text as a byte stream in 64 KiB chunks, as `File.stream()` delivers it. */
async function* chunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
}

const CYCLES = 20_000;
let bytes = new Uint8Array();
let records = 0;
let loaded: EventLog<Message, Message, ViewerRoot> | undefined;
let seed = 1;
let checkpoints: Checkpoints | undefined;

const cases: BenchCase[] = [
  {
    name: "demo.web.load",
    kind: "throughput",
    unit: "records/s",
    // A million-record log loads in 4 s.
    target: { op: ">=", value: 250_000 },
    doc: `read, validate and replay a log of ${CYCLES.toLocaleString("en")} open/alloc/alloc/free/close rounds (≈ 260k records) into the viewer, 64 KiB chunks`,
    get opsPerIteration() {
      return records;
    },
    setup() {
      const s = sessionText(CYCLES);
      bytes = new TextEncoder().encode(s.text);
      records = s.records;
    },
    async iteration() {
      const l = await loadLog(chunks(bytes), "bench.jsonl", defaultSystem());
      if (l.error !== undefined) throw new Error(l.error);
    },
    iterations: 5,
  },
  {
    name: "demo.web.stateAt",
    kind: "latency",
    unit: "µs",
    // One 60 Hz frame: dragging the slider stays smooth.
    target: { op: "<=", value: 16_000 },
    doc: `stateAt(random seq) on the loaded log: nearest snapshot (every ${VIEWER_SNAPSHOT_EVERY} records) + evolve the tail`,
    async setup() {
      const s = sessionText(CYCLES);
      const l = await loadLog(chunks(new TextEncoder().encode(s.text)), "bench.jsonl", defaultSystem());
      loaded = l.log;
      records = s.records;
    },
    iteration() {
      // A fixed LCG: the same positions every run.
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      loaded!.stateAt(seed % (records + 1));
    },
    iterations: 2000,
  },
  {
    name: "demo.story",
    kind: "latency",
    unit: "ms",
    // `pnpm demo` must finish in 10 s; pnpm and tsx take 2–4 s of it to start.
    target: { op: "<=", value: 5_000 },
    doc: "pnpm demo's work in one process: the story (steps 1–5), its log encoded, decoded and replayed into an empty system, the live and replayed state hashes",
    async iteration() {
      const story = runStory();
      const text = encodeLog(story.log.records);
      const l = await loadLog(chunks(new TextEncoder().encode(text)), "story.jsonl", defaultSystem());
      if (l.error !== undefined) throw new Error(l.error);
      const replayed = createEmptyVfioSystemLog();
      replayed.append(l.log.records as never);
      if (stateHash(story.log.state) !== stateHash(replayed.state)) throw new Error("replay differs");
    },
    iterations: 3,
  },
  {
    name: "demo.web.storyStep",
    kind: "latency",
    unit: "ms",
    // A slider move on the story, as the page does it: one 60 Hz frame.
    target: { op: "<=", value: 16 },
    doc: "stateStep(random seq) on the story's log through the viewer's checkpoints (every 16 records where the slider went) + vtdUnits + smmuInstances + faultsView",
    async setup() {
      const text = encodeLog(runStory().log.records);
      const l = await loadLog(chunks(new TextEncoder().encode(text)), "story.jsonl", defaultSystem());
      loaded = l.log;
      records = l.log.seq;
      checkpoints = new Checkpoints(l.log);
    },
    iteration() {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const { root } = stateStep(loaded!, seed % (records + 1), checkpoints);
      vtdUnits(root);
      smmuInstances(root);
      faultsView(root);
    },
    iterations: 60,
  },
];

export default cases;
