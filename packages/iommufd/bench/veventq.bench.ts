/**
 * Benchmarks of the vEVENTQ path: the selftest mock's vIOMMU reports a
 * vEVENT (IOMMU_TEST_OP_TRIGGER_VEVENT through the byte entry:
 * `iommufd_viommu_report_event()`), and the VMM reads it from the vEVENTQ
 * fd (an 8-byte header + 4-byte virt_id record). The queue is drained on
 * every round, so each iteration is a steady state.
 */
import type { Message } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { struct } from "../../../bench/struct";
import {
  createSystemLog,
  type IommufdRoot,
  iommufdFileRead,
  iommufdIoctl,
  processMemory,
} from "../src/index";
import { type FileWorld, ok } from "./file-world";

const ROUNDS = 500;

type World = FileWorld;

/** A mock device on a nested HWPT of a vIOMMU under virt_id 0x99, and a vEVENTQ of depth `depth`. */
function world(depth: number): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  ok(log.dispatch({ type: "mm.spawn", data: { pid: 1 } }));
  const opened = ok(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } }));
  const ctx = (opened as unknown as { data: { ctx: number } }[])[0]!.data.ctx;
  const mm = ok(log.dispatch({ type: "mm.mmap", data: { pid: 1, length: 4096n, prot: 3, shared: false } }));
  const scratch = (mm as unknown as { data: { addr: bigint } }[])[0]!.data.addr;
  const env = {
    dispatch: (c: Message) => log.dispatch(c),
    peek: () => log.peek() as IommufdRoot,
    user: processMemory({ dispatch: (c) => log.dispatch(c), peek: () => log.peek() as never }, 1),
  };
  const ioctl = (req: number, arg: Uint8Array) => ok(iommufdIoctl(env, ctx, req, arg));
  const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer).getUint32(off, true);
  const ioasArg = struct(12, [[0, 4, 12]]);
  ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, ioasArg);
  const ioas = u32(ioasArg, 8);
  const md = struct(72, [
    [0, 4, 72],
    [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN],
    [8, 4, ioas],
  ]);
  ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, md);
  const [stdev, idev] = [u32(md, 16), u32(md, 24)];
  const hwpt = (flags: number, pt: number, dataLen: number) => {
    const a = struct(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, idev],
      [12, 4, pt],
      [24, 4, dataLen ? 0xdead : 0],
      [28, 4, dataLen],
      [32, 8, dataLen ? scratch : 0n],
    ]);
    ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, a);
    return u32(a, 16);
  };
  const parent = hwpt(1, ioas, 0);
  const va = struct(40, [
    [0, 4, 40],
    [8, 4, 0xdeadbeef],
    [12, 4, idev],
    [16, 4, parent],
  ]);
  ioctl(IOMMU_IOCTL.IOMMU_VIOMMU_ALLOC, va);
  const viommu = u32(va, 20);
  const nested = hwpt(0, viommu, 4);
  ioctl(
    IOMMU_IOCTL.IOMMU_VDEVICE_ALLOC,
    struct(24, [
      [0, 4, 24],
      [4, 4, viommu],
      [8, 4, idev],
      [16, 8, 0x99n],
    ]),
  );
  ioctl(
    IOMMU_IOCTL.IOMMU_TEST_CMD,
    struct(72, [
      [0, 4, 72],
      [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE],
      [8, 4, stdev],
      [16, 4, nested],
    ]),
  );
  const q = struct(32, [
    [0, 4, 32],
    [8, 4, viommu],
    [12, 4, 0xbeefbeef],
    [16, 4, depth],
  ]);
  ioctl(IOMMU_IOCTL.IOMMU_VEVENTQ_ALLOC, q);
  return { log, ctx, file: { kind: "veventq", ctx, id: u32(q, 20) }, idev };
}

function envOf(w: World) {
  return {
    dispatch: (c: Message) => w.log.dispatch(c),
    peek: () => w.log.peek() as IommufdRoot,
    user: null as never,
  };
}

function triggerArg(w: World): Uint8Array {
  return struct(72, [
    [0, 4, 72],
    [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_VEVENT],
    [16, 4, w.idev],
  ]);
}

const roundTrip = (): BenchCase => {
  let w: World;
  return {
    name: "iommufd.veventq.mock_round_trip",
    kind: "throughput",
    unit: "vevents/s",
    doc: "TRIGGER_VEVENT + read(12) of the record on the selftest mock's vEVENTQ, 500 per iteration",
    opsPerIteration: ROUNDS,
    setup() {
      w = world(2);
    },
    iteration() {
      const env = envOf(w);
      for (let i = 0; i < ROUNDS; i++) {
        ok(iommufdIoctl(env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, triggerArg(w)));
        const r = iommufdFileRead(env, w.file, 12);
        if (isErrno(r) || r.length !== 12) throw new Error("no record");
      }
    },
  };
};

const batched = (): BenchCase => {
  let w: World;
  return {
    name: "iommufd.veventq.mock_batch_read",
    kind: "throughput",
    unit: "vevents/s",
    doc: "64 TRIGGER_VEVENTs, then one read(768) of the 64 records (depth 64), 8 batches per iteration",
    opsPerIteration: 64 * 8,
    setup() {
      w = world(64);
    },
    iteration() {
      const env = envOf(w);
      for (let b = 0; b < 8; b++) {
        for (let i = 0; i < 64; i++) ok(iommufdIoctl(env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, triggerArg(w)));
        const r = iommufdFileRead(env, w.file, 64 * 12);
        if (isErrno(r) || r.length !== 64 * 12) throw new Error("short read");
      }
    },
  };
};

export default [roundTrip(), batched()] satisfies BenchCase[];
