/** Benchmarks of the event-sourcing runtime (issue: eventlog). */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command, errno, event, U64, UInt } from "@iommu-sim/uapi";
import { Type } from "@sinclair/typebox";
import type { BenchCase } from "../../../bench/harness";
import {
  createLog,
  type Decider,
  type EventLog,
  encodeHeader,
  FrameStore,
  readLog,
  Vocabulary,
} from "../src/index";

type Cmd =
  | { type: "n.add"; data: { by: number } }
  | { type: "n.batch"; data: { key: number; values: bigint[] } };
type Evt =
  | { type: "n.added"; data: { by: number } }
  | { type: "n.stored"; data: { key: number; value: bigint } };

/** A trivial decider: a counter. */
const counter: Decider<Cmd, Evt, { n: number; sum: bigint }> = {
  initialState: { n: 0, sum: 0n },
  decide: (_s, c) =>
    c.type === "n.add"
      ? [{ type: "n.added", data: { by: c.data.by } }]
      : c.data.values.length > 0
        ? c.data.values.map((value) => ({ type: "n.stored", data: { key: c.data.key, value } }))
        : errno("EINVAL"),
  evolve: (s, e) =>
    e.type === "n.added" ? { n: s.n + e.data.by, sum: s.sum } : { n: s.n + 1, sum: s.sum + e.data.value },
};

const vocabulary = new Vocabulary([
  command("n.add", Type.Object({ by: UInt(32) }), "add"),
  command("n.batch", Type.Object({ key: UInt(32), values: Type.Array(U64()) }), "store values"),
  event("n.added", Type.Object({ by: UInt(32) }), "added"),
  event("n.stored", Type.Object({ key: UInt(32), value: U64() }), "stored"),
]);

const DISPATCHES = 200_000;
let log: EventLog<Cmd, Evt, { n: number; sum: bigint }>;
const add: Cmd = { type: "n.add", data: { by: 1 } };

const LINES = 1_000_000;
const EVENTS_PER_COMMAND = 9;
let dir = "";
let file = "";

type FillCmd = { type: "m.fill"; data: null } | { type: "m.touch"; data: { pfn: number } };
type FillEvt = { type: "m.filled"; data: null } | { type: "m.touched"; data: { pfn: number } };
let bigLog: EventLog<FillCmd, FillEvt, { frames: FrameStore }>;
let touches = 0;

const cases: BenchCase[] = [
  {
    name: "eventlog.dispatch",
    kind: "throughput",
    unit: "commands/s",
    target: { op: ">=", value: 2_000_000 },
    doc: "dispatch through a trivial counter decider with one events$ subscriber; 200k per iteration",
    opsPerIteration: DISPATCHES,
    beforeEach() {
      log = createLog(counter, { snapshotEvery: 1 << 30 });
      log.events$.subscribe(() => {});
    },
    iteration() {
      for (let i = 0; i < DISPATCHES; i++) log.dispatch(add);
    },
  },
  {
    name: "eventlog.replay.jsonl",
    kind: "throughput",
    unit: "events/s",
    target: { op: ">=", value: 500_000 },
    doc: "read, validate against the vocabulary and evolve a 1,000,000-line log from disk (100k commands + 900k events)",
    opsPerIteration: (LINES / (EVENTS_PER_COMMAND + 1)) * EVENTS_PER_COMMAND,
    iterations: 5,
    setup() {
      dir = mkdtempSync(join(tmpdir(), "iommu-sim-bench-"));
      file = join(dir, "replay.jsonl");
      const parts: string[] = [encodeHeader()];
      let seq = 0;
      for (let c = 0; c < LINES / (EVENTS_PER_COMMAND + 1); c++) {
        const values = Array.from(
          { length: EVENTS_PER_COMMAND },
          (_, i) => `0x${(c * 4096 + i).toString(16)}`,
        );
        parts.push(JSON.stringify({ seq: ++seq, type: "n.batch", data: { key: c, values } }));
        for (const v of values)
          parts.push(JSON.stringify({ seq: ++seq, type: "n.stored", data: { key: c, value: v } }));
      }
      writeFileSync(file, `${parts.join("\n")}\n`);
    },
    teardown() {
      rmSync(dir, { recursive: true, force: true });
    },
    async iteration() {
      const target = createLog(counter, { snapshotEvery: 1 << 30 });
      const opened = await readLog(createReadStream(file, { highWaterMark: 1 << 20 }), { vocabulary, file });
      for await (const batch of opened.batches) target.append(batch as never);
      if (target.seq !== LINES) throw new Error(`replayed ${target.seq} records`);
    },
  },
  {
    name: "eventlog.snapshot",
    kind: "latency",
    unit: "µs",
    target: { op: "<=", value: 10 },
    doc: "snapshot() of a state holding 1,000,000 u64 entries (a FrameStore), one command after the previous snapshot",
    setup() {
      const filler: Decider<FillCmd, FillEvt, { frames: FrameStore }> = {
        initialState: { frames: FrameStore.empty() },
        decide: (_s, c) =>
          c.type === "m.fill"
            ? [{ type: "m.filled", data: null }]
            : [{ type: "m.touched", data: { pfn: c.data.pfn } }],
        evolve: (s, e) => {
          if (e.type === "m.touched") return { frames: s.frames.writeU32(e.data.pfn * 4096, 1) };
          let frames = s.frames;
          // 1954 frames × 512 u64 entries ≈ 1,000,000 entries
          for (let f = 0; f < 1954; f++)
            frames = frames.edit(f, (v) => {
              for (let i = 0; i < 512; i++) v.setUint32(i * 8, f * 512 + i, true);
            });
          return { frames };
        },
      };
      bigLog = createLog(filler, { snapshotEvery: 1 << 30 });
      bigLog.dispatch({ type: "m.fill", data: null });
    },
    beforeEach() {
      // one small command since the last snapshot, so snapshot() captures a new state
      bigLog.dispatch({ type: "m.touch", data: { pfn: touches++ % 1954 } });
    },
    iteration() {
      bigLog.snapshot();
    },
    iterations: 1000,
  },
];

export default cases;
