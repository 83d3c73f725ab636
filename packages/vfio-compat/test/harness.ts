/**
 * A container test harness: a simulated process (mm.spawn + a shared
 * buffer), a /dev/vfio/vfio (or /dev/iommu) open on the composed system,
 * and ioctl helpers on bytes through `iommufdIoctl` with the VFIO hook
 * installed — the path a real program's ioctl takes.
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
import {
  IOMMU_IOCTL,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_TEST_OP,
  IOMMU_VFIO_IOAS_SET,
  isErrno,
  VFIO_IOCTL,
} from "@iommu-sim/uapi";
import { vfioIntArg, withVfioCompat } from "../src/index";

export const PAGE = 4096n;
/** The selftest's BUFFER_SIZE: 16 pages. */
export const BUFFER_SIZE = 16n * PAGE;
export const PID = 100;
const TEST_CMD_SIZE = 72;

export const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Little-endian struct bytes from (offset, size, value) triples; `total` bytes long, the rest `fill`. */
export function bytes(
  total: number,
  fields: [number, 1 | 2 | 4 | 8, number | bigint][],
  fill = 0,
): Uint8Array {
  const b = new Uint8Array(total).fill(fill);
  const v = view(b);
  for (const [off, size, val] of fields) {
    if (size === 8) v.setBigUint64(off, BigInt(val), true);
    else if (size === 4) v.setUint32(off, Number(val), true);
    else if (size === 2) v.setUint16(off, Number(val), true);
    else v.setUint8(off, Number(val));
  }
  return b;
}

/** A process with a buffer, and one open fd of the model. */
export class Container {
  readonly log: EventLog<Message, Message, SystemState> = createSystemLog();
  readonly ctx: number;
  readonly env: IoctlEnv<IommufdRoot>;
  /** User VA of a BUFFER_SIZE shared anonymous buffer. */
  readonly buffer: bigint;

  /** @param vfio open /dev/vfio/vfio (per-mm accounting) rather than /dev/iommu. */
  constructor(vfio = true) {
    this.log.dispatch({ type: "mm.spawn", data: { pid: PID } });
    this.buffer = this.mmap(BUFFER_SIZE);
    const r = this.log.dispatch({ type: "iommufd.open", data: { pid: PID, vfio } });
    if (isErrno(r)) throw new Error(`open: ${r}`);
    this.ctx = (r[0]!.data as { ctx: number }).ctx;
    this.env = withVfioCompat({
      dispatch: (c) => this.log.dispatch(c),
      peek: () => this.log.peek() as IommufdRoot,
      user: processMemory(
        { dispatch: (c) => this.log.dispatch(c), peek: () => this.log.peek() as never },
        PID,
      ),
    });
  }

  get state(): SystemState {
    return this.log.state;
  }

  /** mmap(MAP_SHARED | MAP_ANONYMOUS) of `length` bytes (at `addr` if given) → its VA. */
  mmap(length: bigint, addr?: bigint): bigint {
    const data = { pid: PID, length, prot: 3, shared: true, ...(addr === undefined ? {} : { addr }) };
    const m = this.log.dispatch({ type: "mm.mmap", data });
    if (isErrno(m)) throw new Error(`mmap: ${m}`);
    return (m[0]!.data as { addr: bigint }).addr;
  }

  /** ioctl(fd, request, arg) on bytes: ≥ 0 or −errno; outputs land in `arg`. */
  ioctl(request: number, arg: Uint8Array = new Uint8Array(0)): number {
    return iommufdIoctl(this.env, this.ctx, request, arg);
  }

  /** ioctl(fd, request, integer) — VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU. */
  ioctlInt(request: number, value: number | bigint): number {
    return this.ioctl(request, vfioIntArg(value));
  }

  ioasAlloc(): number {
    const arg = bytes(12, [[0, 4, 12]]);
    if (this.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg) !== 0) throw new Error("IOAS_ALLOC failed");
    return view(arg).getUint32(8, true);
  }

  /** IOMMU_TEST_CMD with the union at offset 16. */
  test(op: number, id: number, union: [number, 4 | 8, number | bigint][]): [number, Uint8Array] {
    const arg = bytes(TEST_CMD_SIZE, [
      [0, 4, TEST_CMD_SIZE],
      [4, 4, op],
      [8, 4, id],
      ...union.map(([o, s, v]) => [16 + o, s, v] as [number, 4 | 8, number | bigint]),
    ]);
    return [this.ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, arg), arg];
  }

  /** A mock device on `pt` (what VFIO would consider a group) → [stdev, hwpt, idev]. */
  mockDomain(pt: number): [number, number, number] {
    const [rc, arg] = this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN, pt, []);
    if (rc !== 0) throw new Error(`MOCK_DOMAIN: ${rc}`);
    return [view(arg).getUint32(16, true), view(arg).getUint32(20, true), view(arg).getUint32(24, true)];
  }

  /** IOMMU_TEST_OP_ADD_RESERVED of [start, start + length). */
  addReserved(ioas: number, start: bigint, length: bigint): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_ADD_RESERVED, ioas, [
      [0, 8, start],
      [8, 8, length],
    ])[0];
  }

  /** IOMMU_VFIO_IOAS op on `ioas`. */
  vfioIoas(op: number, ioas = 0): [number, number] {
    const arg = bytes(12, [
      [0, 4, 12],
      [4, 4, ioas],
      [8, 2, op],
    ]);
    return [this.ioctl(IOMMU_IOCTL.IOMMU_VFIO_IOAS, arg), view(arg).getUint32(4, true)];
  }

  /** IOMMU_OPTION_HUGE_PAGES GET on `ioas` → [rc, val64]. */
  hugePages(ioas: number): [number, bigint] {
    const arg = bytes(24, [
      [0, 4, 24],
      [4, 4, IOMMU_OPTION_HUGE_PAGES],
      [8, 2, IOMMU_OPTION_OP_GET],
      [12, 4, ioas],
      [16, 8, 3],
    ]);
    return [this.ioctl(IOMMU_IOCTL.IOMMU_OPTION, arg), view(arg).getBigUint64(16, true)];
  }

  /** struct vfio_iommu_type1_dma_map {argsz, flags, vaddr, iova, size} (32 bytes). */
  mapDma(vaddr: bigint, iova: bigint, size: bigint, flags = 3, argsz = 32): number {
    return this.ioctl(
      VFIO_IOCTL.VFIO_IOMMU_MAP_DMA,
      bytes(32, [
        [0, 4, argsz],
        [4, 4, flags],
        [8, 8, vaddr],
        [16, 8, iova],
        [24, 8, size],
      ]),
    );
  }

  /** struct vfio_iommu_type1_dma_unmap {argsz, flags, iova, size} (24 bytes) → [rc, size answered]. */
  unmapDma(iova: bigint, size: bigint, flags = 0, argsz = 24): [number, bigint] {
    const arg = bytes(24, [
      [0, 4, argsz],
      [4, 4, flags],
      [8, 8, iova],
      [16, 8, size],
    ]);
    return [this.ioctl(VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, arg), view(arg).getBigUint64(16, true)];
  }

  /** The selftest's vfio_compat_mock_domain setup: IOAS + mock device, set as compat IOAS, VFIO_SET_IOMMU(version). */
  static withMockDomain(version: number): { c: Container; ioas: number } {
    const c = new Container(false);
    const ioas = c.ioasAlloc();
    c.mockDomain(ioas);
    if (c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas)[0] !== 0) throw new Error("VFIO_IOAS_SET failed");
    const rc = c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, version);
    if (rc !== 0) throw new Error(`VFIO_SET_IOMMU: ${rc}`);
    return { c, ioas };
  }

  /** The compat IOAS's areas as [iova, last] pairs. */
  areas(ioasKobj: number): [bigint, bigint][] {
    return this.state.iopt.ioas.get(ioasKobj)!.areas.map((a) => [a.iova, a.last]);
  }
}
