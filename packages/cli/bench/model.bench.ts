/**
 * `cli.model.map4k`: the daemon's share of `cli.exec.ioctl` without any
 * transport — the same IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP pairs of 4 KiB
 * (fixed IOVA, selftest mock domain attached, the page pinned from a
 * mirrored process) driven through the /dev/iommu driver's `ioctl`
 * in-process, the argument structs in a stand-in process memory (no
 * /proc/<pid>/mem). The ceiling any transport can reach.
 */
import { IOMMU_IOCTL, IOMMU_TEST_OP } from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import type { Caller, OpenFile } from "../src/daemon/driver";
import { iommufdDriver } from "../src/drivers/iommufd";
import { ExternalMemory } from "../src/memory/external";
import { createModelLog } from "../src/model";

const PID = 4242;
/** The stand-in process's memory: structs at BASE, the mapped buffer at BASE + 64 KiB. */
const BASE = 0x7f00_0000_0000;
const SIZE = 1 << 20;
const BUF = BASE + 0x1_0000;
/** MOCK_APERTURE_START (Linux iommufd_test.h). */
const IOVA = 1n << 24n;
/** IOMMU_IOAS_MAP_FIXED_IOVA | _WRITEABLE | _READABLE (include/uapi/linux/iommufd.h). */
const MAP_FLAGS = 1 | 2 | 4;

const bytes = new Uint8Array(SIZE);
const view = new DataView(bytes.buffer);
const memory = {
  read(va: bigint, length: number) {
    const off = Number(va) - BASE;
    return bytes.slice(off, off + length);
  },
  // As the daemon's ProcMemory: a copy straight into the driver's buffer.
  readInto(va: bigint, target: Uint8Array) {
    const off = Number(va) - BASE;
    target.set(bytes.subarray(off, off + target.length));
    return undefined;
  },
  write(va: bigint, b: Uint8Array) {
    bytes.set(b, Number(va) - BASE);
    return undefined;
  },
};
const caller: Caller = { pid: PID, memory };

let file: OpenFile;
/** Struct addresses (user VAs). */
const ALLOC = BASE;
const MOCK = BASE + 0x100;
const MAP = BASE + 0x200;
const UNMAP = BASE + 0x300;

function ioctl(request: number, va: number): void {
  const r = file.ioctl(caller, request, BigInt(va));
  if (r !== 0) throw new Error(`ioctl 0x${request.toString(16)} failed: ${r}`);
}

const cases: BenchCase[] = [
  {
    name: "cli.model.map4k",
    kind: "throughput",
    unit: "pairs/s",
    opsPerIteration: 1000,
    doc: "IOMMU_IOAS_MAP + UNMAP pairs/s of 4 KiB through the /dev/iommu driver in-process (mock domain, mirrored page): the model's ceiling for cli.exec.ioctl",
    setup() {
      const log = createModelLog();
      const external = new ExternalMemory(log, {
        maps: () => [{ start: BASE, end: BASE + SIZE, prot: 3, offset: 0 }],
        credentials: () => ({ uid: 0, memlockLimit: 1n << 40n, capIpcLock: true }),
        alive: () => true,
      });
      external.track(PID, memory);
      const driver = iommufdDriver(external.port(), false, external);
      const opened = driver.open("/dev/iommu", 2, caller);
      if ("ret" in opened) throw new Error("open failed");
      file = opened;
      // struct iommu_ioas_alloc {size, flags, out_ioas_id}
      view.setUint32(ALLOC - BASE, 12, true);
      ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, ALLOC);
      const ioas = view.getUint32(ALLOC - BASE + 8, true);
      // struct iommu_test_cmd {size, op, id, __reserved, union (mock_domain: out_stdev_id, out_hwpt_id, out_idev_id)}
      view.setUint32(MOCK - BASE, 80, true);
      view.setUint32(MOCK - BASE + 4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN, true);
      view.setUint32(MOCK - BASE + 8, ioas, true);
      ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, MOCK);
      // struct iommu_ioas_map {size, flags, ioas_id, __reserved, user_va, length, iova}
      view.setUint32(MAP - BASE, 40, true);
      view.setUint32(MAP - BASE + 4, MAP_FLAGS, true);
      view.setUint32(MAP - BASE + 8, ioas, true);
      view.setBigUint64(MAP - BASE + 16, BigInt(BUF), true);
      view.setBigUint64(MAP - BASE + 24, 4096n, true);
      view.setBigUint64(MAP - BASE + 32, IOVA, true);
      // struct iommu_ioas_unmap {size, ioas_id, iova, length}
      view.setUint32(UNMAP - BASE, 24, true);
      view.setUint32(UNMAP - BASE + 4, ioas, true);
      view.setBigUint64(UNMAP - BASE + 8, IOVA, true);
      view.setBigUint64(UNMAP - BASE + 16, 4096n, true);
      for (let i = 0; i < 2000; i++) {
        ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, MAP);
        ioctl(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, UNMAP);
      }
    },
    iteration() {
      for (let i = 0; i < 1000; i++) {
        ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, MAP);
        ioctl(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, UNMAP);
      }
    },
  },
];

export default cases;
