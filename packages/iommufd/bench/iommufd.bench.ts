/**
 * Benchmarks of the hardware wiring (issues #5, #7, #8): an IOAS whose
 * auto domain is a real page table of the VT-d or SMMUv3 model, so every
 * IOMMU_IOAS_MAP/UNMAP also writes the hardware tables (and the unmap
 * runs the driver's IOTLB invalidation); and the attach/detach of a
 * platform device (domain allocation, IOAS fill, context/PASID entries or
 * STE/CD, reserved regions).
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { struct } from "../../../bench/struct";
import {
  createSystemLog,
  type IoctlEnv,
  type IommufdRoot,
  iommufdIoctl,
  processMemory,
  type SystemState,
} from "../src/index";

const PAGE = 4096n;
const BUF = 0x7000_0000_0000n;
const IOVA = 0x100_0000n;
const PAIRS = 2_000;

interface World {
  log: EventLog<Message, Message, SystemState>;
  env: IoctlEnv<IommufdRoot>;
  ctx: number;
  ioas: number;
  dev: number;
}

function must<T>(r: T): T {
  if (!Array.isArray(r) && r !== 0) throw new Error(`setup failed: ${String(r)}`);
  return r;
}

/** Process 1 with 16 pages at BUF, a context, an IOAS, platform device `device` bound (and attached). */
function world(device: string, attach: boolean): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  must(log.dispatch({ type: "mm.spawn", data: { pid: 1, capIpcLock: true } }));
  must(
    log.dispatch({ type: "mm.mmap", data: { pid: 1, addr: BUF, length: 16n * PAGE, prot: 3, shared: true } }),
  );
  const ctx = (
    must(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } })) as never[] as {
      data: { ctx: number };
    }[]
  )[0]!.data.ctx;
  const env: IoctlEnv<IommufdRoot> = {
    dispatch: (c) => log.dispatch(c),
    peek: () => log.peek() as IommufdRoot,
    user: processMemory({ dispatch: (c) => log.dispatch(c), peek: () => log.peek() as never }, 1),
  };
  const alloc = struct(12, [[0, 4, 12]]);
  must(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, alloc));
  const ioas = new DataView(alloc.buffer).getUint32(8, true);
  const bound = must(log.dispatch({ type: "iommufd.device.bind", data: { ctx, device } })) as never[] as {
    data: { id: number };
  }[];
  const dev = bound[0]!.data.id;
  if (attach) must(log.dispatch({ type: "iommufd.device.attach", data: { ctx, devId: dev, ptId: ioas } }));
  return { log, env, ctx, ioas, dev };
}

function mapUnmapCase(name: string, device: string): BenchCase {
  let w: World;
  let map: Uint8Array;
  let unmap: Uint8Array;
  return {
    name,
    kind: "throughput",
    unit: "map+unmap pairs/s",
    opsPerIteration: PAIRS,
    doc: `IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP of 16 pages at a fixed IOVA through the byte entry, the IOAS's auto domain on ${device}'s IOMMU model (page-table writes + the driver's invalidation)`,
    setup() {
      w = world(device, true);
      map = struct(40, [
        [0, 4, 40],
        [4, 4, 7], // FIXED_IOVA | WRITEABLE | READABLE
        [8, 4, w.ioas],
        [16, 8, BUF],
        [24, 8, 16n * PAGE],
        [32, 8, IOVA],
      ]);
      unmap = struct(24, [
        [0, 4, 24],
        [4, 4, w.ioas],
        [8, 8, IOVA],
        [16, 8, 16n * PAGE],
      ]);
    },
    iteration() {
      for (let i = 0; i < PAIRS; i++) {
        if (iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map) !== 0) throw new Error("map");
        if (iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_IOAS_UNMAP, unmap) !== 0) throw new Error("unmap");
      }
    },
  };
}

function attachDetachCase(name: string, device: string): BenchCase {
  let w: World;
  return {
    name,
    kind: "latency",
    unit: "µs",
    opsPerIteration: 100,
    doc: `iommufd.device.attach to an IOAS (new auto domain on ${device}'s IOMMU) + iommufd.device.detach (domain freed), per pair`,
    setup() {
      w = world(device, false);
    },
    iteration() {
      for (let i = 0; i < 100; i++) {
        must(
          w.log.dispatch({ type: "iommufd.device.attach", data: { ctx: w.ctx, devId: w.dev, ptId: w.ioas } }),
        );
        must(w.log.dispatch({ type: "iommufd.device.detach", data: { ctx: w.ctx, devId: w.dev } }));
      }
    },
  };
}

/**
 * Issue #5's figure: 4 KiB IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP pairs through
 * the byte entry with two domains attached to the IOAS — a VT-d one (nic0)
 * and an SMMUv3 one (gpu0) — so each pair writes and clears a PTE in both
 * hardware page tables and runs both drivers' invalidations.
 */
function map4kCase(): BenchCase {
  let w: World;
  let map: Uint8Array;
  let unmap: Uint8Array;
  return {
    name: "iommufd.ioctl.map4k",
    kind: "throughput",
    unit: "map+unmap pairs/s",
    opsPerIteration: PAIRS,
    target: { op: ">=", value: 150_000 },
    doc: "IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP of 4 KiB at a fixed IOVA through the byte entry, a VT-d and an SMMUv3 domain attached",
    setup() {
      w = world("nic0", true);
      const gpu = must(
        w.log.dispatch({ type: "iommufd.device.bind", data: { ctx: w.ctx, device: "gpu0" } }),
      ) as never[] as {
        data: { id: number };
      }[];
      must(
        w.log.dispatch({
          type: "iommufd.device.attach",
          data: { ctx: w.ctx, devId: gpu[0]!.data.id, ptId: w.ioas },
        }),
      );
      map = struct(40, [
        [0, 4, 40],
        [4, 4, 7], // FIXED_IOVA | WRITEABLE | READABLE
        [8, 4, w.ioas],
        [16, 8, BUF],
        [24, 8, PAGE],
        [32, 8, IOVA],
      ]);
      unmap = struct(24, [
        [0, 4, 24],
        [4, 4, w.ioas],
        [8, 8, IOVA],
        [16, 8, PAGE],
      ]);
    },
    iteration() {
      for (let i = 0; i < PAIRS; i++) {
        if (iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map) !== 0) throw new Error("map");
        if (iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_IOAS_UNMAP, unmap) !== 0) throw new Error("unmap");
      }
    },
  };
}

const cases: BenchCase[] = [
  map4kCase(),
  mapUnmapCase("iommufd.vtd.map_unmap", "nic0"),
  mapUnmapCase("iommufd.smmu.map_unmap", "gpu0"),
  attachDetachCase("iommufd.vtd.attach_detach", "nic0"),
  attachDetachCase("iommufd.smmu.attach_detach", "gpu0"),
];
export default cases;
