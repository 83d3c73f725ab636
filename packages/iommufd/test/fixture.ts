/** The iommufd_ioas fixture (selftest FIXTURE(iommufd_ioas)) on the byte interface. */
import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno, MOCK_APERTURE_START } from "@iommu-sim/uapi";
import { expect } from "vitest";
import { processMemory } from "../src/index";
import { bytes, IommuFd, newSystem } from "./harness";

const PAGE = 4096n;
const TEST_CMD_SIZE = 72;
export const view = (b: Uint8Array) => new DataView(b.buffer);

/** An fd, an IOAS, a 64-page shared buffer of process 100, and `mockDomains` mock devices on the IOAS. */
export class Fixture {
  log = newSystem();
  fd: IommuFd;
  ioas: number;
  buffer: bigint;
  stdev = 0;
  hwpt = 0;
  idev = 0;
  base = 0n;

  constructor(readonly mockDomains: number) {
    this.log.dispatch({ type: "mm.spawn", data: { pid: 100 } });
    const m = this.log.dispatch({
      type: "mm.mmap",
      data: { pid: 100, length: 64n * PAGE, prot: 3, shared: true },
    });
    if (isErrno(m)) throw new Error(`${m}`);
    this.buffer = (m[0]!.data as { addr: bigint }).addr;
    this.fd = IommuFd.open(this.log, 100);
    this.fd.user = processMemory(
      { dispatch: (c) => this.log.dispatch(c), peek: () => this.log.peek() as never },
      100,
    );
    this.ioas = this.ioasAlloc();
    for (let i = 0; i < mockDomains; i++) {
      const [rc, ids] = this.mockDomain(this.ioas);
      expect(rc).toBe(0);
      [this.stdev, this.hwpt, this.idev] = ids;
      this.base = BigInt(MOCK_APERTURE_START);
    }
  }

  ioasAlloc(): number {
    const arg = bytes(12, [[0, 4, 12]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg)).toBe(0);
    return view(arg).getUint32(8, true);
  }

  test(op: number, id: number, union: [number, 4 | 8, number | bigint][]): [number, Uint8Array] {
    const arg = bytes(TEST_CMD_SIZE, [
      [0, 4, TEST_CMD_SIZE],
      [4, 4, op],
      [8, 4, id],
      ...union.map(([o, s, v]) => [16 + o, s, v] as [number, 4 | 8, number | bigint]),
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, arg), arg];
  }

  mockDomain(pt: number): [number, [number, number, number]] {
    const [rc, arg] = this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN, pt, []);
    return [
      rc,
      [view(arg).getUint32(16, true), view(arg).getUint32(20, true), view(arg).getUint32(24, true)],
    ];
  }

  map(length: bigint, iova: bigint, fixed = true, uptr = this.buffer): [number, bigint] {
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, 6 | (fixed ? 1 : 0)],
      [8, 4, this.ioas],
      [16, 8, uptr],
      [24, 8, length],
      [32, 8, iova],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg);
    return [rc, view(arg).getBigUint64(32, true)];
  }

  unmap(iova: bigint, length: bigint): number {
    return this.fd.ioctl(
      IOMMU_IOCTL.IOMMU_IOAS_UNMAP,
      bytes(24, [
        [0, 4, 24],
        [4, 4, this.ioas],
        [8, 8, iova],
        [16, 8, length],
      ]),
    );
  }

  destroy(id: number): number {
    return this.fd.ioctl(
      IOMMU_IOCTL.IOMMU_DESTROY,
      bytes(8, [
        [0, 4, 8],
        [4, 4, id],
      ]),
    );
  }

  checkMap(iova: bigint, length: bigint, uptr = this.buffer): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_MAP, this.hwpt, [
      [0, 8, iova],
      [8, 8, length],
      [16, 8, uptr],
    ])[0];
  }

  checkRefs(length: bigint, refs: number, uptr = this.buffer): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_REFS, 0, [
      [0, 8, length],
      [8, 8, uptr],
      [16, 4, refs],
    ])[0];
  }

  addReserved(start: bigint, length: bigint): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_ADD_RESERVED, this.ioas, [
      [0, 8, start],
      [8, 8, length],
    ])[0];
  }
}
