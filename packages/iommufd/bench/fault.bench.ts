/**
 * Benchmarks of the IO page fault path (issue 5): one page request group's
 * round trip through iommufd — raised (selftest TRIGGER_IOPF on the mock,
 * or a VT-d DMA write with a PASID faulting on an IOPF-capable HWPT: PRQ
 * descriptor, driver consumption, fault queue), read from the fault fd as
 * an `iommu_hwpt_pgfault` record, answered by writing an
 * `iommu_hwpt_page_response` (VT-d: the page group response descriptor
 * through the invalidation queue). Nothing is mapped, so each iteration
 * faults again: a steady state.
 */
import type { Message } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { struct } from "../../../bench/struct";
import {
  createSystemLog,
  type IommufdRoot,
  iommufdFileRead,
  iommufdFileWrite,
  iommufdIoctl,
} from "../src/index";
import { type FileWorld, ok } from "./file-world";

const ROUNDS = 500;

type World = FileWorld;

/** A context with an IOAS, a fault queue and device `dev` (mock or platform) on an IOPF-capable HWPT. */
function world(platformDevice?: string): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  ok(log.dispatch({ type: "mm.spawn", data: { pid: 1 } }));
  const opened = ok(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } }));
  const ctx = (opened as unknown as { data: { ctx: number } }[])[0]!.data.ctx;
  const env = {
    dispatch: (c: Message) => log.dispatch(c),
    peek: () => log.peek() as IommufdRoot,
    user: null as never,
  };
  const ioctl = (req: number, arg: Uint8Array) => ok(iommufdIoctl(env, ctx, req, arg));
  const ioasArg = struct(12, [[0, 4, 12]]);
  ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, ioasArg);
  const ioas = new DataView(ioasArg.buffer).getUint32(8, true);
  const fa = struct(16, [[0, 4, 16]]);
  ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa);
  const faultId = new DataView(fa.buffer).getUint32(8, true);
  let idev: number;
  let stdev = 0;
  if (platformDevice === undefined) {
    const md = struct(72, [
      [0, 4, 72],
      [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN],
      [8, 4, ioas],
    ]);
    ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, md);
    stdev = new DataView(md.buffer).getUint32(16, true);
    idev = new DataView(md.buffer).getUint32(24, true);
  } else {
    const b = ok(log.dispatch({ type: "iommufd.device.bind", data: { ctx, device: platformDevice } }));
    idev = (b as unknown as { data: { id: number } }[])[0]!.data.id;
  }
  const ha = struct(48, [
    [0, 4, 48],
    [4, 4, (1 << 2) | (platformDevice === undefined ? 0 : 1 << 3)],
    [8, 4, idev],
    [12, 4, ioas],
    [40, 4, faultId],
  ]);
  ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha);
  const hwpt = new DataView(ha.buffer).getUint32(16, true);
  if (platformDevice === undefined) {
    ioctl(
      IOMMU_IOCTL.IOMMU_TEST_CMD,
      struct(72, [
        [0, 4, 72],
        [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE],
        [8, 4, stdev],
        [16, 4, hwpt],
      ]),
    );
  } else {
    ok(log.dispatch({ type: "iommufd.device.attach", data: { ctx, devId: idev, ptId: hwpt, pasid: 5 } }));
  }
  return { log, ctx, file: { kind: "fault", ctx, id: faultId }, idev };
}

/** Read one record and answer it SUCCESS. */
function answer(w: World): void {
  const env = {
    dispatch: (c: Message) => w.log.dispatch(c),
    peek: () => w.log.peek() as IommufdRoot,
    user: null as never,
  };
  const r = iommufdFileRead(env, w.file, 40);
  if (isErrno(r) || r.length !== 40) throw new Error("no record");
  const cookie = new DataView(r.buffer, r.byteOffset).getUint32(36, true);
  const n = iommufdFileWrite(env, w.file, struct(8, [[0, 4, cookie]]));
  if (n !== 8) throw new Error("response refused");
}

function mockCase(): BenchCase {
  let w: World;
  const trigger = () =>
    struct(72, [
      [0, 4, 72],
      [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_IOPF],
      [16, 4, w.idev],
      [24, 4, 2],
      [28, 4, 3],
      [32, 8, 0xdeadb000n],
    ]);
  return {
    name: "iommufd.fault.mock_round_trip",
    kind: "throughput",
    unit: "faults/s",
    doc: "TRIGGER_IOPF + read(40) + write(SUCCESS) on the selftest mock, 500 per iteration",
    opsPerIteration: ROUNDS,
    setup() {
      w = world();
    },
    iteration() {
      const env = {
        dispatch: (c: Message) => w.log.dispatch(c),
        peek: () => w.log.peek() as IommufdRoot,
        user: null as never,
      };
      for (let i = 0; i < ROUNDS; i++) {
        ok(iommufdIoctl(env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, trigger()));
        answer(w);
      }
    },
  };
}

function vtdCase(): BenchCase {
  let w: World;
  const bytes = new Uint8Array(4096).fill(0x5a);
  return {
    name: "iommufd.fault.vtd_page_request",
    kind: "throughput",
    unit: "faults/s",
    doc: "accel0 DMA write (PASID 5) to an unmapped page → PRQ → fault queue → read → SUCCESS page group response, 500 per iteration",
    opsPerIteration: ROUNDS,
    setup() {
      w = world("accel0");
    },
    iteration() {
      for (let i = 0; i < ROUNDS; i++) {
        ok(
          w.log.dispatch({
            type: "vtd.dma",
            data: { unit: 0, rid: 0x10, pasid: 5, iova: 0x40_0000n, length: 4096, write: true, bytes },
          }),
        );
        answer(w);
      }
    },
  };
}

export default [mockCase(), vtdCase()] satisfies BenchCase[];
