/**
 * Benchmarks of the VFIO container (issue #9): what the compat layer adds
 * on top of iopt. Both go through the byte entry (`iommufdIoctl` with the
 * VFIO hook), on a /dev/vfio/vfio context whose compat IOAS has one
 * selftest mock domain (2 KiB IO pages), process with CAP_IPC_LOCK.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import {
  createSystemLog,
  type IoctlEnv,
  type IommufdRoot,
  iommufdIoctl,
  processMemory,
  type SystemState,
} from "@iommu-sim/iommufd";
import { IOMMU_IOCTL, IOMMU_TEST_OP, IOMMU_VFIO_IOAS_SET, VFIO_IOCTL } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { struct } from "../../../bench/struct";
import { withVfioCompat } from "../src/index";

const PAGE = 4096n;
const BUF = 0x7000_0000_0000n;
const IOVA = 0x100_0000n;
const PAIRS = 5_000;

interface World {
  log: EventLog<Message, Message, SystemState>;
  env: IoctlEnv<IommufdRoot>;
  ctx: number;
}

/** Process 1 with 16 pages at BUF, a vfio context, an IOAS with a mock device set as compat IOAS. */
function world(): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  const must = (r: unknown) => {
    if (!Array.isArray(r) && r !== 0) throw new Error(`setup failed: ${String(r)}`);
    return r as { data: { ctx: number } }[];
  };
  must(log.dispatch({ type: "mm.spawn", data: { pid: 1, capIpcLock: true } }));
  must(
    log.dispatch({ type: "mm.mmap", data: { pid: 1, addr: BUF, length: 16n * PAGE, prot: 3, shared: true } }),
  );
  const ctx = must(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: true } }))[0]!.data.ctx;
  const env = withVfioCompat<IoctlEnv<IommufdRoot>>({
    dispatch: (c) => log.dispatch(c),
    peek: () => log.peek() as IommufdRoot,
    user: processMemory({ dispatch: (c) => log.dispatch(c), peek: () => log.peek() as never }, 1),
  });
  const alloc = struct(12, [[0, 4, 12]]);
  must(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, alloc));
  const ioas = new DataView(alloc.buffer).getUint32(8, true);
  must(
    iommufdIoctl(
      env,
      ctx,
      IOMMU_IOCTL.IOMMU_TEST_CMD,
      struct(72, [
        [0, 4, 72],
        [4, 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN],
        [8, 4, ioas],
      ]),
    ),
  );
  must(
    iommufdIoctl(
      env,
      ctx,
      IOMMU_IOCTL.IOMMU_VFIO_IOAS,
      struct(12, [
        [0, 4, 12],
        [4, 4, ioas],
        [8, 4, IOMMU_VFIO_IOAS_SET],
      ]),
    ),
  );
  must(iommufdIoctl(env, ctx, VFIO_IOCTL.VFIO_SET_IOMMU, struct(8, [[0, 8, 3]])));
  return { log, env, ctx };
}

let w: World;
const map = struct(32, [
  [0, 4, 32],
  [4, 4, 3],
  [8, 8, BUF],
  [16, 8, IOVA],
  [24, 8, PAGE],
]);
const unmap = struct(24, [
  [0, 4, 24],
  [8, 8, IOVA],
  [16, 8, PAGE],
]);
const info = new Uint8Array(128);

export default [
  {
    name: "vfio-compat.mapUnmap4k",
    kind: "throughput",
    unit: "pairs/s",
    target: { op: ">=", value: 10_000 },
    doc: `VFIO_IOMMU_MAP_DMA + UNMAP_DMA of one 4 KiB page, ${PAIRS} pairs per iteration, bytes in/out through iommufdIoctl (one mock domain: pin, 2 IO PTEs, unpin)`,
    opsPerIteration: PAIRS,
    setup() {
      w = world();
    },
    iteration() {
      for (let i = 0; i < PAIRS; i++) {
        if (iommufdIoctl(w.env, w.ctx, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map) !== 0) throw new Error("map");
        unmap.fill(0, 16, 24);
        new DataView(unmap.buffer).setBigUint64(16, PAGE, true);
        if (iommufdIoctl(w.env, w.ctx, VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, unmap) !== 0)
          throw new Error("unmap");
      }
    },
  },
  {
    name: "vfio-compat.getInfo",
    kind: "latency",
    unit: "µs",
    target: { op: "<=", value: 20 },
    doc: "VFIO_IOMMU_GET_INFO with the whole capability chain (argsz 72: DMA_AVAIL + one IOVA range), one call",
    setup() {
      w = world();
    },
    iteration() {
      new DataView(info.buffer).setUint32(0, 72, true);
      if (iommufdIoctl(w.env, w.ctx, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, info) !== 0) throw new Error("get_info");
    },
  },
] satisfies BenchCase[];
