/**
 * Benchmarks of nested HWPTs: a guest-style IOTLB flush through
 * IOMMU_HWPT_INVALIDATE on the byte entry — a VT-d nested HWPT attached to
 * accel0 (each entry becomes a PASID-based IOTLB descriptor run by the
 * unit's invalidation queue), and the selftest mock's nested HWPT (its
 * mock IOTLB) for the cost of the generic path alone; the mock vIOMMU's
 * invalidation (a mock device's cache, by vDEVICE id) and its
 * allocation + destruction.
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
const G = 0x10_0000n;
const V = 0x20_0000n;
const CALLS = 1_000;

interface World {
  log: EventLog<Message, Message, SystemState>;
  env: IoctlEnv<IommufdRoot>;
  ctx: number;
  nested: number;
  /** IOMMU_HWPT_INVALIDATE's argument, pointing at the entries in process memory. */
  inv: Uint8Array;
}

function must<T>(r: T): T {
  if (!Array.isArray(r) && r !== 0) throw new Error(`setup failed: ${String(r)}`);
  return r;
}

function ids(r: unknown): number {
  return (r as { data: { id: number } }[])[0]!.data.id;
}

/** Process 1 with 16 pages at BUF, a context and an IOAS; `ioctl` on it. */
function base() {
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
  const ioctl = (req: number, arg: Uint8Array) => must(iommufdIoctl(env, ctx, req, arg));
  const alloc = struct(12, [[0, 4, 12]]);
  ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, alloc);
  const ioas = new DataView(alloc.buffer).getUint32(8, true);
  const write = (va: bigint, bytes: Uint8Array) =>
    must(log.dispatch({ type: "mm.write", data: { pid: 1, va, bytes } }));
  /** IOMMU_HWPT_ALLOC → out_hwpt_id; `data` is written at BUF + 15 pages. */
  const hwptAlloc = (dev: number, pt: number, flags: number, type = 0, data?: Uint8Array) => {
    if (data !== undefined) write(BUF + 15n * PAGE, data);
    const arg = struct(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, dev],
      [12, 4, pt],
      [24, 4, type],
      [28, 4, data?.length ?? 0],
      [32, 8, data === undefined ? 0n : BUF + 15n * PAGE],
    ]);
    ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
    return new DataView(arg.buffer).getUint32(16, true);
  };
  return { log, env, ctx, ioas, ioctl, write, hwptAlloc };
}

/** accel0 attached to a VT-d nested HWPT whose 4-level table (buffer pages 0–3) maps V → page 8. */
function vtdWorld(): World {
  const b = base();
  const dev = ids(
    must(b.log.dispatch({ type: "iommufd.device.bind", data: { ctx: b.ctx, device: "accel0" } })),
  );
  const parent = b.hwptAlloc(dev, b.ioas, 1); // NEST_PARENT
  b.ioctl(
    IOMMU_IOCTL.IOMMU_IOAS_MAP,
    struct(40, [
      [0, 4, 40],
      [4, 4, 7],
      [8, 4, b.ioas],
      [16, 8, BUF],
      [24, 8, 16n * PAGE],
      [32, 8, G],
    ]),
  );
  const pte = (page: number, off: number, to: number) =>
    b.write(BUF + BigInt(page) * PAGE + BigInt(off), struct(8, [[0, 8, (G + BigInt(to) * PAGE) | 0x67n]]));
  pte(0, 0, 1);
  pte(1, 0, 2);
  pte(2, 8, 3);
  pte(3, 0, 8);
  const s1 = struct(24, [
    [8, 8, G],
    [16, 4, 48],
  ]);
  const nested = b.hwptAlloc(dev, parent, 0, 1, s1); // IOMMU_HWPT_DATA_VTD_S1
  must(b.log.dispatch({ type: "iommufd.device.attach", data: { ctx: b.ctx, devId: dev, ptId: nested } }));
  const entries = BUF + 14n * PAGE;
  b.write(
    entries,
    struct(24, [
      [0, 8, V],
      [8, 8, 1n],
    ]),
  );
  const inv = struct(32, [
    [0, 4, 32],
    [4, 4, nested],
    [8, 8, entries],
    [16, 4, 0], // IOMMU_HWPT_INVALIDATE_DATA_VTD_S1
    [20, 4, 24],
    [24, 4, 1],
  ]);
  return { log: b.log, env: b.env, ctx: b.ctx, nested, inv };
}

/** A world with a selftest mock device on its IOAS and a NEST_PARENT HWPT for it. */
function mockParentBase() {
  const b = base();
  const cmd = struct(72, [
    [0, 4, 72],
    [4, 4, 2], // IOMMU_TEST_OP_MOCK_DOMAIN
    [8, 4, b.ioas],
  ]);
  b.ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, cmd);
  const idev = new DataView(cmd.buffer).getUint32(24, true);
  const parent = b.hwptAlloc(idev, b.ioas, 1);
  return { b, idev, parent };
}

/** A mock device whose nested HWPT (iommu_hwpt_selftest) takes one FLAG_ALL entry per call. */
function mockWorld(): World {
  const { b, idev, parent } = mockParentBase();
  const nested = b.hwptAlloc(idev, parent, 0, 0xdead, struct(4, [[0, 4, 0xbadbeef]]));
  const entries = BUF + 14n * PAGE;
  b.write(entries, struct(8, [[0, 4, 1]])); // IOMMU_TEST_INVALIDATE_FLAG_ALL
  const inv = struct(32, [
    [0, 4, 32],
    [4, 4, nested],
    [8, 8, entries],
    [16, 4, 0xdeadbeef], // IOMMU_HWPT_INVALIDATE_DATA_SELFTEST
    [20, 4, 8],
    [24, 4, 1],
  ]);
  return { log: b.log, env: b.env, ctx: b.ctx, nested, inv };
}

/** The mock's world with a vIOMMU on the NEST_PARENT HWPT and the device's vDEVICE 0x99 on it. */
function mockViommuBase() {
  const { b, idev, parent } = mockParentBase();
  const alloc = struct(40, [
    [0, 4, 40],
    [8, 4, 0xdeadbeef], // IOMMU_VIOMMU_TYPE_SELFTEST
    [12, 4, idev],
    [16, 4, parent],
  ]);
  return { b, idev, parent, alloc };
}

/** One FLAG_ALL iommu_viommu_invalidate_selftest entry for vDEVICE 0x99 per call. */
function mockViommuWorld(): World {
  const { b, idev, alloc } = mockViommuBase();
  b.ioctl(IOMMU_IOCTL.IOMMU_VIOMMU_ALLOC, alloc);
  const viommu = new DataView(alloc.buffer).getUint32(20, true);
  const vdev = struct(24, [
    [0, 4, 24],
    [4, 4, viommu],
    [8, 4, idev],
    [16, 8, 0x99n],
  ]);
  b.ioctl(IOMMU_IOCTL.IOMMU_VDEVICE_ALLOC, vdev);
  const entries = BUF + 14n * PAGE;
  b.write(
    entries,
    struct(12, [
      [0, 4, 1], // IOMMU_TEST_INVALIDATE_FLAG_ALL
      [4, 4, 0x99],
    ]),
  );
  const inv = struct(32, [
    [0, 4, 32],
    [4, 4, viommu],
    [8, 8, entries],
    [16, 4, 0xdeadbeef], // IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST
    [20, 4, 12],
    [24, 4, 1],
  ]);
  return { log: b.log, env: b.env, ctx: b.ctx, nested: viommu, inv };
}

/** IOMMU_VIOMMU_ALLOC + IOMMU_DESTROY pairs on the mock, without data. */
function viommuAllocCase(): BenchCase {
  let w: ReturnType<typeof mockViommuBase>;
  const destroy = struct(8, [[0, 4, 8]]);
  return {
    name: "iommufd.mock.viommu_alloc_destroy",
    kind: "throughput",
    unit: "pairs/s",
    opsPerIteration: CALLS,
    doc: "IOMMU_VIOMMU_ALLOC (IOMMU_VIOMMU_TYPE_SELFTEST on a NEST_PARENT HWPT, no data) then IOMMU_DESTROY of it, through the byte entry",
    setup() {
      w = mockViommuBase();
    },
    iteration() {
      for (let i = 0; i < CALLS; i++) {
        w.b.ioctl(IOMMU_IOCTL.IOMMU_VIOMMU_ALLOC, w.alloc);
        destroy.set(w.alloc.subarray(20, 24), 4);
        w.b.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, destroy);
      }
    },
  };
}

function invalidateCase(name: string, doc: string, make: () => World): BenchCase {
  let w: World;
  return {
    name,
    kind: "throughput",
    unit: "invalidations/s",
    opsPerIteration: CALLS,
    doc,
    setup() {
      w = make();
    },
    iteration() {
      for (let i = 0; i < CALLS; i++) {
        w.inv.set([1, 0, 0, 0], 24); // entry_num is in/out
        if (iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_HWPT_INVALIDATE, w.inv) !== 0)
          throw new Error("inv");
      }
    },
  };
}

const cases: BenchCase[] = [
  invalidateCase(
    "iommufd.vtd.nested_invalidate",
    "IOMMU_HWPT_INVALIDATE of one 4 KiB iommu_hwpt_vtd_s1_invalidate entry on a VT-d nested HWPT attached to accel0, through the byte entry (PASID-based IOTLB descriptor run by the queue)",
    vtdWorld,
  ),
  invalidateCase(
    "iommufd.mock.nested_invalidate",
    "IOMMU_HWPT_INVALIDATE of one FLAG_ALL iommu_hwpt_invalidate_selftest entry on a mock nested HWPT, through the byte entry",
    mockWorld,
  ),
  invalidateCase(
    "iommufd.mock.viommu_invalidate",
    "IOMMU_HWPT_INVALIDATE of one FLAG_ALL iommu_viommu_invalidate_selftest entry (vDEVICE 0x99) on a mock vIOMMU, through the byte entry",
    mockViommuWorld,
  ),
  viommuAllocCase(),
];
export default cases;
