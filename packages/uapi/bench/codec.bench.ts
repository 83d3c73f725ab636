/** Benchmarks of the ABI codec (issue #3): the iommufd hot path is IOMMU_IOAS_MAP/UNMAP. */
import type { BenchCase } from "../../../bench/harness";
import { copyToUser, IOMMU_IOCTL, iommufdCopyIn, iommuIoasMap, iommuIoasUnmap, isErrno } from "../src/index";

const MAP = iommuIoasMap.encode({
  size: 40,
  flags: 7,
  ioas_id: 2,
  user_va: 0x7f00_0000_0000n,
  length: 0x1000n,
  iova: 0x10_0000n,
});
const UNMAP = iommuIoasUnmap.encode({ size: 24, ioas_id: 2, iova: 0x10_0000n, length: 0x1000n });
const N = 10_000;
let sink = 0;

const cases: BenchCase[] = [
  {
    name: "uapi.decode.iommu_ioas_map",
    kind: "latency",
    unit: "µs",
    opsPerIteration: N,
    target: { op: "<=", value: 1 },
    doc: "Layout.decode of one 40-byte struct iommu_ioas_map (per call; 10k calls per iteration).",
    iteration() {
      for (let i = 0; i < N; i++) sink += iommuIoasMap.decode(MAP).ioas_id;
    },
  },
  {
    name: "uapi.copyin.map_unmap_pairs",
    kind: "throughput",
    unit: "pairs/s",
    opsPerIteration: N,
    // ≤ 3.3 µs a pair: half the 6.6 µs per-pair budget of iommufd.ioctl.map4k (≥ 150,000 pairs/s)
    target: { op: ">=", value: 300_000 },
    doc: "iommufdCopyIn of IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP and both responses (copyToUser), per pair.",
    iteration() {
      for (let i = 0; i < N; i++) {
        const m = iommufdCopyIn(IOMMU_IOCTL.IOMMU_IOAS_MAP, MAP);
        const u = iommufdCopyIn(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, UNMAP);
        if (isErrno(m) || isErrno(u)) throw new Error("unexpected errno");
        sink += copyToUser(iommuIoasMap, m.value as never, m.userSize).length;
        sink += copyToUser(iommuIoasUnmap, u.value as never, u.userSize).length;
      }
    },
  },
];

export default cases;
export const _sink = () => sink;
