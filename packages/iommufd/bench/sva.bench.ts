/**
 * Benchmarks of SVA on VT-d (issue #11 step 3): a process bound to the
 * PRI-capable accelerator; its DMA with the mm's PASID walks the process's
 * x86-64 page table in RAM.
 * - `iommufd.sva.fault_roundtrip`: one page's whole IO page fault — the DMA
 *   write to an untouched page (first-stage walk, not present, page request
 *   in the PRQ, consumed, queued in the SVA fault queue), `sva.iopf.handle`
 *   (handle_mm_fault: a frame, its PTE; the page group response through the
 *   invalidation queue) and the retried write landing in RAM. Each
 *   iteration takes fresh pages of a 4 GiB buffer: a steady state.
 * - `iommufd.sva.dma_hit`: an 8-byte DMA write to a present page through
 *   the IOTLB (the translation cached by the first write).
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { createSystemLog, type SystemState } from "../src/index";

const ACCEL = 0x10;
const PID = 1;
const ROUNDS = 200;
const PAGE = 0x1000n;

interface World {
  log: EventLog<Message, Message, SystemState>;
  buf: bigint;
  pasid: number;
  next: number;
}

function ok<T>(r: T | { name: string }): T {
  if (isErrno(r)) throw new Error(`setup failed: ${String(r)}`);
  return r as T;
}

function world(): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  ok(log.dispatch({ type: "mm.spawn", data: { pid: PID } }));
  const mapped = ok(
    log.dispatch({ type: "mm.mmap", data: { pid: PID, length: 1n << 32n, prot: 3, shared: false } }),
  ) as readonly Message[];
  const buf = (mapped[0]!.data as { addr: bigint }).addr;
  ok(log.dispatch({ type: "mm.write", data: { pid: PID, va: buf, bytes: new Uint8Array([1]) } }));
  const bound = ok(
    log.dispatch({ type: "sva.bind", data: { pid: PID, rid: ACCEL, flags: 0 } }),
  ) as readonly Message[];
  const pasid = (bound.find((e) => e.type === "sva.bound")!.data as { pasid: number }).pasid;
  return { log, buf, pasid, next: 1 };
}

const BYTES = new Uint8Array(8).fill(0x5a);

function dma(w: World, iova: bigint): readonly Message[] {
  return ok(
    w.log.dispatch({
      type: "vtd.dma",
      data: { unit: 0, rid: ACCEL, pasid: w.pasid, iova, length: 8, write: true, bytes: BYTES },
    }),
  ) as readonly Message[];
}

let w: World | undefined;

const cases: BenchCase[] = [
  {
    kind: "throughput",
    name: "iommufd.sva.fault_roundtrip",
    unit: "faults/s",
    doc: "VT-d SVA: DMA write to an untouched page → page request → SVA fault queue → sva.iopf.handle (fault-in, PTE, page group response) → retried write lands; fresh pages each round",
    opsPerIteration: ROUNDS,
    setup() {
      w = world();
    },
    iteration() {
      const x = w!;
      for (let i = 0; i < ROUNDS; i++) {
        const va = x.buf + BigInt(x.next++) * PAGE;
        dma(x, va);
        ok(x.log.dispatch({ type: "sva.iopf.handle", data: {} }));
        dma(x, va);
      }
    },
  },
  {
    kind: "throughput",
    name: "iommufd.sva.dma_hit",
    unit: "DMAs/s",
    doc: "VT-d SVA: 8-byte DMA write with the mm's PASID to a present page, translated by the IOTLB entry the first write cached",
    opsPerIteration: ROUNDS,
    setup() {
      w = world();
      dma(w, w.buf);
    },
    iteration() {
      const x = w!;
      for (let i = 0; i < ROUNDS; i++) dma(x, x.buf + 8n);
    },
  },
];

export default cases;
