/**
 * A machine for the group/device tests: the composed system with the vfio
 * subsystem, one simulated process, and its open files — iommufd contexts
 * (/dev/iommu or /dev/vfio/vfio), group files and device files — driven
 * through the byte ioctl entry points a program's ioctl reaches.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { DEFAULT_PLATFORM, iommufdIoctl, type Platform, processMemory } from "@iommu-sim/iommufd";
import { type Errno, IOMMU_IOCTL, isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import {
  createVfioSystemLog,
  type VfioEnv,
  type VfioFdTarget,
  type VfioRoot,
  vfioDeviceIoctl,
  vfioGroupIoctl,
  vfioIntArg,
  vfioOpenPath,
  withVfioCompat,
} from "../src/index";
import { bytes, view } from "./harness";

export const PID = 200;
export const GiB = 1n << 30n;

/** A log over createSystem({vfio}) on `platform`. */
export function vfioLog(platform: Platform = DEFAULT_PLATFORM): EventLog<Message, Message, VfioRoot> {
  return createVfioSystemLog(undefined, platform) as unknown as EventLog<Message, Message, VfioRoot>;
}

/** NUL-terminated ASCII bytes of `s` (a device name for GET_DEVICE_FD). */
export function cString(s: string): Uint8Array {
  return new Uint8Array([...s].map((c) => c.charCodeAt(0)).concat(0));
}

/** The process and its files. fd numbers: contexts use their ctx id; others are listed in `others`. */
export class Machine {
  readonly log: EventLog<Message, Message, VfioRoot>;
  readonly env: VfioEnv;
  /** fds that are open but not iommufds (for EBADFD). */
  readonly others = new Set<number>();
  /** iommufd fds the program closed (their context may live on, held by VFIO). */
  readonly closed = new Set<number>();

  /** @param memlockLimit the process's RLIMIT_MEMLOCK in bytes (default Linux's 8 MiB). */
  constructor(platform: Platform = DEFAULT_PLATFORM, memlockLimit?: bigint) {
    this.log = vfioLog(platform);
    this.log.dispatch({
      type: "mm.spawn",
      data: { pid: PID, ...(memlockLimit === undefined ? {} : { memlockLimit }) },
    });
    const base: VfioEnv = {
      dispatch: (c) => this.log.dispatch(c),
      peek: () => this.log.peek(),
      user: processMemory(
        { dispatch: (c) => this.log.dispatch(c), peek: () => this.log.peek() as never },
        PID,
      ),
      fdTarget: (fd): VfioFdTarget | undefined =>
        this.others.has(fd)
          ? { kind: "other" }
          : this.closed.has(fd) || this.log.peek().iommufd.contexts[fd] === undefined
            ? undefined
            : { kind: "iommufd", ctx: fd },
    };
    this.env = withVfioCompat(base);
  }

  get state(): VfioRoot {
    return this.log.state;
  }

  /** Open /dev/vfio/vfio (`vfio`) or /dev/iommu → its context id (= its fd here). */
  openIommufd(vfio = true): number {
    const r = this.log.dispatch({ type: "iommufd.open", data: { pid: PID, vfio } });
    if (isErrno(r)) throw new Error(`open: ${r}`);
    return (r[0]!.data as { ctx: number }).ctx;
  }

  /** open(path) of a VFIO node → group number / device file id, or the Errno. */
  open(path: string): number | Errno {
    const r = vfioOpenPath(this.env, path);
    if (isErrno(r)) return r;
    return r.kind === "group" ? r.group : r.file;
  }

  /** ioctl on an iommufd context (container ioctls included). */
  ioctl(ctx: number, request: number, arg: Uint8Array = new Uint8Array(0)): number {
    return iommufdIoctl(this.env, ctx, request, arg);
  }

  ioctlInt(ctx: number, request: number, value: number | bigint): number {
    return this.ioctl(ctx, request, vfioIntArg(value));
  }

  group(group: number, request: number, arg: Uint8Array = new Uint8Array(0)): number {
    return vfioGroupIoctl(this.env, group, request, arg);
  }

  device(file: number, request: number, arg: Uint8Array = new Uint8Array(0)): number {
    return vfioDeviceIoctl(this.env, file, request, arg);
  }

  /** VFIO_GROUP_GET_STATUS → [rc, flags]. */
  status(group: number): [number, number] {
    const arg = bytes(8, [[0, 4, 8]]);
    return [this.group(group, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, arg), view(arg).getUint32(4, true)];
  }

  /** VFIO_GROUP_SET_CONTAINER(&fd). */
  setContainer(group: number, fd: number): number {
    return this.group(group, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, bytes(4, [[0, 4, fd >>> 0]]));
  }

  /** VFIO_GROUP_GET_DEVICE_FD(name) → fd (= device file id) or −errno. */
  deviceFd(group: number, name: string): number {
    return this.group(group, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString(name));
  }

  /** VFIO_DEVICE_BIND_IOMMUFD {argsz, flags, iommufd, out_devid, token_uuid_ptr} → [rc, out_devid]. */
  bind(file: number, iommufd: number, flags = 0, argsz = 24, tokenPtr = 0n): [number, number] {
    const arg = bytes(Math.max(argsz, 24), [
      [0, 4, argsz],
      [4, 4, flags],
      [8, 4, iommufd >>> 0],
      [16, 8, tokenPtr],
    ]);
    return [this.device(file, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, arg), view(arg).getUint32(12, true)];
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT {argsz, flags, pt_id, pasid} → [rc, pt_id]. */
  attach(file: number, ptId: number, pasid?: number, argsz = 16): [number, number] {
    const arg = bytes(16, [
      [0, 4, argsz],
      [4, 4, pasid === undefined ? 0 : 1],
      [8, 4, ptId],
      [12, 4, pasid ?? 0],
    ]);
    return [this.device(file, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, arg), view(arg).getUint32(8, true)];
  }

  /** VFIO_DEVICE_DETACH_IOMMUFD_PT {argsz, flags, pasid}. */
  detach(file: number, pasid?: number, argsz = 12): number {
    const arg = bytes(12, [
      [0, 4, argsz],
      [4, 4, pasid === undefined ? 0 : 1],
      [8, 4, pasid ?? 0],
    ]);
    return this.device(file, VFIO_IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT, arg);
  }

  /** IOMMU_IOAS_ALLOC on `ctx` → the IOAS id. */
  ioasAlloc(ctx: number): number {
    const arg = bytes(12, [[0, 4, 12]]);
    if (this.ioctl(ctx, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg) !== 0) throw new Error("IOAS_ALLOC failed");
    return view(arg).getUint32(8, true);
  }

  /**
   * IOMMU_HWPT_ALLOC (struct iommu_hwpt_alloc, 48 bytes) of a paging HWPT
   * for device object `devId` on `ptId` with `flags` → the HWPT id. A
   * PASID needs one allocated with IOMMU_HWPT_ALLOC_PASID (auto domains
   * are not PASID-compatible, iommufd_hwpt_pasid_compat()).
   */
  hwptAlloc(ctx: number, devId: number, ptId: number, flags: number): number {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, devId],
      [12, 4, ptId],
    ]);
    const rc = this.ioctl(ctx, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
    if (rc !== 0) throw new Error(`HWPT_ALLOC failed: ${rc}`);
    return view(arg).getUint32(16, true);
  }

  /** IOMMU_VFIO_IOAS GET on `ctx` → [rc, ioas id]. */
  compatIoas(ctx: number): [number, number] {
    const arg = bytes(12, [[0, 4, 12]]);
    return [this.ioctl(ctx, IOMMU_IOCTL.IOMMU_VFIO_IOAS, arg), view(arg).getUint32(4, true)];
  }

  /** The object table of context `ctx`: id → type (device objects as "device:<name>"). */
  objects(ctx: number): Record<number, string> {
    const out: Record<number, string> = {};
    const c = this.log.peek().iommufd.contexts[ctx];
    for (const k in c?.objects ?? {}) {
      const o = c!.objects[k]!;
      out[o.id] = o.device === undefined ? o.type : `device:${o.device}`;
    }
    return out;
  }

  /** mmap(MAP_SHARED | MAP_ANONYMOUS, RW) of `length` bytes → its VA. */
  mmap(length: bigint): bigint {
    const m = this.log.dispatch({ type: "mm.mmap", data: { pid: PID, length, prot: 3, shared: true } });
    if (isErrno(m)) throw new Error(`mmap: ${m}`);
    return (m[0]!.data as { addr: bigint }).addr;
  }
}

/** A platform with one VT-d unit and a two-device group (group 7: nicA, nicB) plus a lone device (group 8). */
export const TWO_DEVICE_GROUP: Platform = {
  memoryBytes: "0x100000000",
  iommus: [{ name: "vtd0", kind: "vtd" }],
  devices: [
    { name: "nica", iommu: "vtd0", rid: 0x100, group: 7, trusted: true },
    { name: "nicb", iommu: "vtd0", rid: 0x101, group: 7, trusted: true },
    { name: "ssd0", iommu: "vtd0", rid: 0x200, group: 8, trusted: true },
  ],
} as Platform;
