/**
 * Benchmarks of the VFIO group and cdev paths (issue #9): what joining a
 * group to its container costs on top of iommufd — SET_CONTAINER binds
 * nic0 and attaches it to an auto domain on VT-d unit 0 (context +
 * PASID-table entries, the domain filled with the compat IOAS's 16 mapped
 * pages, the MSI window reserved), UNSET_CONTAINER unbinds it — and what
 * opening a device file on that binding costs. Bytes in/out through the
 * group / device ioctl entry points.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { iommufdIoctl, processMemory } from "@iommu-sim/iommufd";
import { IOMMU_IOCTL, VFIO_IOCTL } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { struct } from "../../../bench/struct";
import {
  createVfioSystemLog,
  type VfioEnv,
  type VfioRoot,
  vfioCdevOpen,
  vfioDeviceIoctl,
  vfioDeviceRelease,
  vfioGroupIoctl,
  vfioGroupOpen,
  withVfioCompat,
} from "../src/index";

const PAGE = 4096n;
const BUF = 0x7000_0000_0000n;
const ROUNDS = 50;

interface World {
  log: EventLog<Message, Message, VfioRoot>;
  env: VfioEnv;
  ctx: number;
  ioas: number;
}

/** Process 1 with 16 pages at BUF, an iommufd context (`vfio`: /dev/vfio/vfio), IOAS `ioas` mapping them. */
function world(vfio: boolean): World {
  const log = createVfioSystemLog({ snapshotEvery: 1 << 30 });
  const must = (r: unknown) => {
    if (!Array.isArray(r) && r !== 0) throw new Error(`setup failed: ${String(r)}`);
    return r as { data: { ctx: number } }[];
  };
  must(log.dispatch({ type: "mm.spawn", data: { pid: 1, capIpcLock: true } }));
  must(
    log.dispatch({ type: "mm.mmap", data: { pid: 1, addr: BUF, length: 16n * PAGE, prot: 3, shared: true } }),
  );
  const ctx = must(log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio } }))[0]!.data.ctx;
  const env = withVfioCompat<VfioEnv>({
    dispatch: (c) => log.dispatch(c),
    peek: () => log.peek() as unknown as VfioRoot,
    user: processMemory({ dispatch: (c) => log.dispatch(c), peek: () => log.peek() as never }, 1),
  });
  const w = { log: log as unknown as EventLog<Message, Message, VfioRoot>, env, ctx, ioas: 0 };
  if (vfio) {
    must(vfioGroupOpen(env, 2) === 2 ? 0 : 1);
    must(vfioGroupIoctl(env, 2, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, struct(4, [[0, 4, ctx]])));
    const map = struct(32, [
      [0, 4, 32],
      [4, 4, 3],
      [8, 8, BUF],
      [16, 8, 0x10_0000n],
      [24, 8, 16n * PAGE],
    ]);
    must(env.vfio!(ctx, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map));
  } else {
    const alloc = struct(12, [[0, 4, 12]]);
    must(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, alloc));
    w.ioas = new DataView(alloc.buffer).getUint32(8, true);
    const map = struct(40, [
      [0, 4, 40],
      [4, 4, 7],
      [8, 4, w.ioas],
      [16, 8, BUF],
      [24, 8, 16n * PAGE],
      [32, 8, 0x10_0000n],
    ]);
    must(iommufdIoctl(env, ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map));
  }
  return w;
}

let w: World;
const getStatus = struct(8, [[0, 4, 8]]);
const nicName = new Uint8Array([..."0000:03:00.0"].map((c) => c.charCodeAt(0)).concat(0));
const noArg = new Uint8Array(0);

export default [
  {
    name: "vfio-compat.group.setContainer",
    kind: "latency",
    unit: "µs",
    doc: "VFIO_GROUP_UNSET_CONTAINER (detach, domain freed, unbind) + VFIO_GROUP_SET_CONTAINER (bind nic0, auto domain on VT-d, fill 16 pages, MSI window reserved), per pair",
    opsPerIteration: ROUNDS,
    setup() {
      w = world(true);
    },
    iteration() {
      const fd = struct(4, [[0, 4, w.ctx]]);
      for (let i = 0; i < ROUNDS; i++) {
        if (vfioGroupIoctl(w.env, 2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER, noArg) !== 0)
          throw new Error("unset");
        if (vfioGroupIoctl(w.env, 2, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, fd) !== 0) throw new Error("set");
      }
    },
  },
  {
    name: "vfio-compat.group.deviceFd",
    kind: "latency",
    unit: "µs",
    doc: "VFIO_GROUP_GET_DEVICE_FD of nic0 (bound at SET_CONTAINER: the file only) + close, per pair",
    opsPerIteration: ROUNDS,
    setup() {
      w = world(true);
    },
    iteration() {
      for (let i = 0; i < ROUNDS; i++) {
        const fd = vfioGroupIoctl(w.env, 2, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, nicName);
        if (fd < 0) throw new Error(`GET_DEVICE_FD ${fd}`);
        vfioDeviceRelease(w.env, fd);
      }
    },
  },
  {
    name: "vfio-compat.group.getStatus",
    kind: "latency",
    unit: "µs",
    doc: "VFIO_GROUP_GET_STATUS on a group with its container set, one call",
    setup() {
      w = world(true);
    },
    iteration() {
      if (vfioGroupIoctl(w.env, 2, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, getStatus) !== 0)
        throw new Error("status");
    },
  },
  {
    name: "vfio-compat.cdev.bindAttach",
    kind: "latency",
    unit: "µs",
    doc: "open /dev/vfio/devices/vfio1 + BIND_IOMMUFD + ATTACH_IOMMUFD_PT to an IOAS of 16 mapped pages (new VT-d auto domain) + close, per round",
    opsPerIteration: ROUNDS,
    setup() {
      w = world(false);
    },
    iteration() {
      for (let i = 0; i < ROUNDS; i++) {
        const file = vfioCdevOpen(w.env, 1);
        if (typeof file !== "number") throw new Error(`open ${file}`);
        const bind = struct(24, [
          [0, 4, 24],
          [8, 4, w.ctx],
        ]);
        if (vfioDeviceIoctl(w.env, file, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, bind) !== 0)
          throw new Error("bind");
        const attach = struct(16, [
          [0, 4, 16],
          [8, 4, w.ioas],
        ]);
        if (vfioDeviceIoctl(w.env, file, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach) !== 0)
          throw new Error("attach");
        vfioDeviceRelease(w.env, file);
      }
    },
  },
] satisfies BenchCase[];
