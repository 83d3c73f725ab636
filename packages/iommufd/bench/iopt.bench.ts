/**
 * Issue #4's `iopt.map4k` figure on real hardware domains: typed
 * `ioas.map` + `ioas.unmap` commands of one 4 KiB page at a fixed IOVA on
 * an IOAS with a VT-d domain (nic0) and an SMMUv3 domain (gpu0) attached,
 * so each pair pins and unpins the page, writes and clears a PTE in both
 * hardware page tables and runs both drivers' IOTLB invalidations. It
 * lives here, not in packages/iopt, because only iommufd composes iopt
 * with the hardware models; iopt's own `iopt.map4k.mock` measures the same
 * pair with two selftest mock domains.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import type { BenchCase } from "../../../bench/harness";
import { createSystemLog, type SystemState } from "../src/index";

const PAGE = 4096n;
const BUF = 0x7000_0000_0000n;
const IOVA = 0x100_0000n;
const PAIRS = 20_000;
const FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

type Log = EventLog<Message, Message, SystemState>;

function must(log: Log, c: Message): { type: string; data: Record<string, unknown> }[] {
  const r = log.dispatch(c);
  if (isErrno(r)) throw new Error(`${c.type}: ${r.name} ${r.reason ?? ""}`);
  return r as never;
}

/** Process 1 owning one page at BUF; an IOAS with nic0 (VT-d) and gpu0 (SMMUv3) attached. @returns the log and iopt's IOAS id. */
export function twoHwDomains(): { log: Log; ioas: number } {
  const log = createSystemLog({ snapshotEvery: 1 << 30 });
  must(log, { type: "mm.spawn", data: { pid: 1, capIpcLock: true } });
  must(log, { type: "mm.mmap", data: { pid: 1, addr: BUF, length: PAGE, prot: 3, shared: false } });
  const ctx = must(log, { type: "iommufd.open", data: { pid: 1, vfio: false } })[0]!.data.ctx as number;
  const alloc = must(log, { type: "iommufd.ioas.alloc", data: { ctx } });
  const ptId = alloc.find((e) => e.type === "iommufd.object.created")?.data.id as number | undefined;
  if (ptId === undefined) throw new Error(`no IOAS object in ${alloc.map((e) => e.type).join(", ")}`);
  for (const device of ["nic0", "gpu0"]) {
    const devId = must(log, { type: "iommufd.device.bind", data: { ctx, device } })[0]!.data.id as number;
    must(log, { type: "iommufd.device.attach", data: { ctx, devId, ptId } });
  }
  const ioas = [...log.peek().iopt.ioas.keys()][0];
  if (ioas === undefined) throw new Error("no IOAS");
  return { log, ioas };
}

let w: { log: Log; ioas: number };
let map: Message;
let unmap: Message;

const cases: BenchCase[] = [
  {
    name: "iopt.map4k",
    kind: "throughput",
    unit: "pairs/s",
    target: { op: ">=", value: 200_000 },
    doc: "ioas.map + ioas.unmap of one 4 KiB page at a fixed IOVA, a VT-d (nic0) and an SMMUv3 (gpu0) domain attached: pin, 2 hardware PTEs, both drivers' invalidations; 20k pairs per iteration",
    opsPerIteration: PAIRS,
    beforeEach() {
      w = twoHwDomains();
      map = {
        type: "ioas.map",
        data: { ioas: w.ioas, pid: 1, userVa: BUF, length: PAGE, iova: IOVA, flags: FLAGS },
      };
      unmap = { type: "ioas.unmap", data: { ioas: w.ioas, iova: IOVA, length: PAGE } };
    },
    iteration() {
      for (let i = 0; i < PAIRS; i++) {
        if (isErrno(w.log.dispatch(map))) throw new Error("map");
        if (isErrno(w.log.dispatch(unmap))) throw new Error("unmap");
      }
    },
  },
];

export default cases;
