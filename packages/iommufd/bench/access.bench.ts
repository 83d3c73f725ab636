/**
 * Benchmarks of the selftest access ops on bytes (issue 5): an access on
 * an IOAS with 64 KiB of a process's shared buffer mapped (no domain, so
 * the access's pins are the only ones) —
 * - `iommufd.access.pin_unpin`: IOMMU_TEST_OP_ACCESS_PAGES of the 16 pages
 *   (with the uptr check) + DESTROY_ACCESS_PAGES, 200 pairs per iteration;
 * - `iommufd.access.rw64`: IOMMU_TEST_OP_ACCESS_RW of 64 bytes across a page
 *   boundary, a read (query + the copy to the user buffer) then a write
 *   (a logged `iommufd.selftest.access_write`), 500 pairs per iteration.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import {
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  isErrno,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from "@iommu-sim/uapi";
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
const LENGTH = 16n * PAGE;
const START = BigInt(MOCK_APERTURE_START);

interface World {
  log: EventLog<Message, Message, SystemState>;
  env: IoctlEnv<IommufdRoot>;
  ctx: number;
  access: number;
  buffer: bigint;
  tmp: bigint;
}

function ok<T>(r: T): T {
  if (isErrno(r) || (typeof r === "number" && r < 0)) throw new Error(`setup failed: ${String(r)}`);
  return r;
}

function testCmd(op: number, id: number, union: [number, 4 | 8, number | bigint][]): Uint8Array {
  return struct(72, [
    [0, 4, 72],
    [4, 4, op],
    [8, 4, id],
    ...union.map(([o, s, v]) => [16 + o, s, v] as [number, 4 | 8, number | bigint]),
  ]);
}

/** A context, an IOAS with the 16-page buffer at MOCK_APERTURE_START, and a pinning access. */
function world(): World {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  ok(log.dispatch({ type: "mm.spawn", data: { pid: 1 } }));
  const mmap = (shared: boolean) =>
    (
      ok(log.dispatch({ type: "mm.mmap", data: { pid: 1, length: LENGTH, prot: 3, shared } })) as unknown as {
        data: { addr: bigint };
      }[]
    )[0]!.data.addr;
  const buffer = mmap(true);
  const tmp = mmap(false);
  const opened = ok(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } }));
  const ctx = (opened as unknown as { data: { ctx: number } }[])[0]!.data.ctx;
  const peek = () => log.peek() as IommufdRoot;
  const dispatch = (c: Message) => log.dispatch(c);
  const env: IoctlEnv<IommufdRoot> = { dispatch, peek, user: processMemory({ dispatch, peek }, 1) };
  const ioasArg = struct(12, [[0, 4, 12]]);
  ok(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, ioasArg));
  const ioas = new DataView(ioasArg.buffer).getUint32(8, true);
  const map = struct(40, [
    [0, 4, 40],
    [4, 4, 7],
    [8, 4, ioas],
    [16, 8, buffer],
    [24, 8, LENGTH],
    [32, 8, START],
  ]);
  ok(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map));
  const create = testCmd(IOMMU_TEST_OP.IOMMU_TEST_OP_CREATE_ACCESS, ioas, [
    [4, 4, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES],
  ]);
  ok(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, create));
  const access = new DataView(create.buffer).getUint32(16, true);
  return { log, env, ctx, access, buffer, tmp };
}

function pinUnpin(): BenchCase {
  let w: World;
  const ROUNDS = 200;
  return {
    name: "iommufd.access.pin_unpin",
    kind: "throughput",
    unit: "pairs/s",
    doc: "ACCESS_PAGES of 16 pages (uptr checked) + DESTROY_ACCESS_PAGES through iommufdIoctl, no domain, 200 per iteration",
    opsPerIteration: ROUNDS,
    setup() {
      w = world();
    },
    iteration() {
      for (let i = 0; i < ROUNDS; i++) {
        const pin = testCmd(IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_PAGES, w.access, [
          [8, 8, START],
          [16, 8, LENGTH],
          [24, 8, w.buffer],
        ]);
        ok(iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, pin));
        const item = new DataView(pin.buffer).getUint32(20, true);
        const unpin = testCmd(IOMMU_TEST_OP.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, w.access, [[0, 4, item]]);
        ok(iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, unpin));
      }
    },
  };
}

function rw64(): BenchCase {
  let w: World;
  const ROUNDS = 500;
  return {
    name: "iommufd.access.rw64",
    kind: "throughput",
    unit: "pairs/s",
    doc: "ACCESS_RW read + write of 64 bytes across a page boundary through iommufdIoctl, 500 per iteration",
    opsPerIteration: ROUNDS,
    setup() {
      w = world();
    },
    iteration() {
      const at = START + PAGE - 32n;
      for (let i = 0; i < ROUNDS; i++) {
        for (const flags of [0, MOCK_ACCESS_RW_WRITE]) {
          const arg = testCmd(IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_RW, w.access, [
            [0, 8, at],
            [8, 8, 64n],
            [16, 8, w.tmp],
            [24, 4, flags],
          ]);
          ok(iommufdIoctl(w.env, w.ctx, IOMMU_IOCTL.IOMMU_TEST_CMD, arg));
        }
      }
    },
  };
}

export default [pinUnpin(), rw64()] satisfies BenchCase[];
