/**
 * The story's system and the programs in it. The system is iommufd's
 * composed one with VFIO groups and device files (vfio-compat's
 * `createVfioSystemLog`: mm, iopt, iommufd, VT-d, SMMUv3, ioasid, vfio; the
 * log starts with the platform's unit commands). A `Process` is one
 * simulated program with an fd table: opens of /dev/iommu, /dev/vfio/vfio
 * (both iommufd files), /dev/vfio/$GROUP and /dev/vfio/devices/vfioN, the
 * fault fds IOMMU_FAULT_QUEUE_ALLOC installs and the device fds
 * VFIO_GROUP_GET_DEVICE_FD installs; ioctl, read, write, poll and close on
 * them, with byte-exact structs and its own memory for the pointers in
 * them. Browser-safe.
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import {
  DEFAULT_PLATFORM,
  type IommufdFile,
  type IommufdRoot,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileWrite,
  iommufdIoctl,
  type PlatformDevice,
  processMemory,
} from "@iommu-sim/iommufd";
import { type EncodeInput, type Errno, errno, isErrno, type Layout } from "@iommu-sim/uapi";
import {
  createVfioSystemLog,
  type VfioEnv,
  type VfioSystemLog,
  vfioDeviceIoctl,
  vfioDeviceRelease,
  vfioGroupIoctl,
  vfioGroupRelease,
  vfioIntArg,
  vfioIommufdRelease,
  vfioOpenPath,
  withVfioCompat,
} from "@iommu-sim/vfio-compat";

/** The log the whole story runs on. */
export type SystemLog = VfioSystemLog;

/** A new log of the default platform (vtd0: accel0, nic0; smmu0: gpu0), its units added. */
export function storyLog(): SystemLog {
  return createVfioSystemLog();
}

/** A device of the default platform by name. @throws Error for a name the platform lacks (a demo bug). */
export function device(name: string): PlatformDevice {
  const d = DEFAULT_PLATFORM.devices.find((x) => x.name === name);
  if (d === undefined) throw new Error(`no device ${name} on the default platform`);
  return d;
}

/** PCI name of a device as vfio-pci matches it: `0000:bb:dd.f`. */
export function pciName(rid: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `0000:${h(rid >> 8, 2)}:${h((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}

/** The event records of a dispatch. @throws Error with the errno: a failing story step is a demo bug. */
export function must(r: readonly LogRecord[] | Errno, what: string): readonly LogRecord[] {
  if (isErrno(r)) throw new Error(`demo: ${what} failed: ${r.toString()}`);
  return r;
}

/** `data` of the first record of `type` among `records`. @throws Error when there is none (a demo bug). */
export function dataOf<T>(records: readonly LogRecord[], type: string): T {
  const r = records.find((x) => x.type === type);
  if (r === undefined) throw new Error(`demo: expected a ${type} record`);
  return r.data as T;
}

/** The output of one ioctl: the return value (≥ 0 or −errno) and the struct as the kernel left it. */
export interface IoctlResult<V> {
  readonly rc: number;
  readonly out: V;
}

/** What an fd of a process stands for. */
type OpenFile =
  | { readonly kind: "iommufd"; readonly ctx: number }
  | { readonly kind: "group"; readonly group: number }
  | { readonly kind: "device"; readonly file: number }
  | { readonly kind: "anon"; readonly file: IommufdFile };

/** A simulated program: its pid, memory and fd table. */
export class Process {
  /** What its ioctls run against. */
  readonly env: VfioEnv;
  private readonly fds = new Map<number, OpenFile>();
  private scratch: bigint | undefined;

  constructor(
    readonly log: SystemLog,
    readonly pid: number,
  ) {
    const access = { dispatch: (c: Message) => log.dispatch(c), peek: () => log.peek() as never };
    const base = withVfioCompat({
      dispatch: access.dispatch,
      peek: () => log.peek() as unknown as IommufdRoot,
      user: processMemory(access, pid),
    });
    this.env = {
      ...base,
      peek: () => log.peek() as never,
      installFd: (file) => this.install({ kind: "anon", file }),
      installDeviceFd: (file) => this.install({ kind: "device", file }),
      fdTarget: (fd) => {
        const f = this.fds.get(fd);
        if (f === undefined) return undefined;
        return f.kind === "iommufd" ? { kind: "iommufd", ctx: f.ctx } : { kind: "other" };
      },
    };
  }

  /** The lowest free fd from 3 (0–2 are stdio), as Linux's fd allocation gives. */
  private install(f: OpenFile): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, f);
    return fd;
  }

  private get(fd: number): OpenFile {
    const f = this.fds.get(fd);
    if (f === undefined) throw new Error(`demo: pid ${this.pid} has no fd ${fd}`);
    return f;
  }

  /**
   * open(path): /dev/iommu, /dev/vfio/vfio (iommufd contexts; the second
   * accounted to the mm as the type1 container was), /dev/vfio/$GROUP,
   * /dev/vfio/devices/vfioN. @returns the fd, or the Errno.
   */
  open(path: string): number | Errno {
    if (path === "/dev/iommu" || path === "/dev/vfio/vfio") {
      const r = this.log.dispatch({
        type: "iommufd.open",
        data: { pid: this.pid, vfio: path !== "/dev/iommu" },
      });
      if (isErrno(r)) return r;
      return this.install({ kind: "iommufd", ctx: dataOf<{ ctx: number }>(r, "iommufd.opened").ctx });
    }
    const o = vfioOpenPath(this.env, path);
    if (isErrno(o)) return o;
    return this.install(
      o.kind === "group" ? { kind: "group", group: o.group } : { kind: "device", file: o.file },
    );
  }

  /** The iommufd context behind `fd`. @throws Error when `fd` is not an iommufd (a demo bug). */
  ctxOf(fd: number): number {
    const f = this.get(fd);
    if (f.kind !== "iommufd") throw new Error(`demo: fd ${fd} is not an iommufd`);
    return f.ctx;
  }

  /** ioctl(fd, request, arg) on raw bytes: ≥ 0 or −errno; outputs land in `arg`. */
  ioctl(fd: number, request: number, arg: Uint8Array = new Uint8Array(0)): number {
    const f = this.get(fd);
    switch (f.kind) {
      case "iommufd":
        return iommufdIoctl(this.env, f.ctx, request, arg);
      case "group":
        return vfioGroupIoctl(this.env, f.group, request, arg);
      case "device":
        return vfioDeviceIoctl(this.env, f.file, request, arg);
      case "anon":
        return errno("ENOTTY", "a fault fd has no ioctls").ret;
    }
  }

  /** ioctl(fd, request, n) for VFIO's integer-argument requests (CHECK_EXTENSION, SET_IOMMU). */
  ioctlInt(fd: number, request: number, n: number): number {
    return this.ioctl(fd, request, vfioIntArg(n));
  }

  /**
   * ioctl(fd, request, &s) with `s` encoded by `layout` from `value`; the
   * leading `size` (iommufd) or `argsz` (VFIO) field is set to the struct's
   * size unless given.
   */
  call<V>(fd: number, request: number, layout: Layout<V>, value: EncodeInput<V>): IoctlResult<V> {
    const lead = layout.fields[0]?.name;
    const sized = lead === "size" || lead === "argsz" ? { [lead]: layout.size, ...(value as object) } : value;
    const arg = layout.encode(sized as EncodeInput<V>);
    const rc = this.ioctl(fd, request, arg);
    return { rc, out: layout.decode(arg) };
  }

  private anon(fd: number): IommufdFile | Errno {
    const f = this.fds.get(fd);
    return f?.kind === "anon" ? f.file : errno("EBADF", `fd ${fd}`);
  }

  /** read(fd, length) on a fault fd: the bytes read, or an Errno. */
  read(fd: number, length: number): Uint8Array | Errno {
    const f = this.anon(fd);
    return isErrno(f) ? f : iommufdFileRead(this.env, f, length);
  }

  /** write(fd, bytes) on a fault fd: the bytes consumed, or an Errno. */
  write(fd: number, bytes: Uint8Array): number | Errno {
    const f = this.anon(fd);
    return isErrno(f) ? f : iommufdFileWrite(this.env, f, bytes);
  }

  /** poll(2) of a fault fd: POLLIN | POLLOUT …; 0 for any other fd. */
  poll(fd: number): number {
    const f = this.anon(fd);
    return isErrno(f) ? 0 : iommufdFilePoll(this.env, f);
  }

  /** close(fd): the file's release when this was its last fd (device files unbind, groups let go). */
  close(fd: number): void {
    const f = this.get(fd);
    this.fds.delete(fd);
    if (f.kind === "device") vfioDeviceRelease(this.env, f.file);
    else if (f.kind === "group") vfioGroupRelease(this.env, f.group);
    else if (f.kind === "iommufd") vfioIommufdRelease(this.env, f.ctx);
  }

  /**
   * Put `bytes` (at most 4 KiB) in the program's memory and return their
   * user VA: the buffer a struct's pointer field (`data_uptr`, a device
   * name…) points at. One page, mapped at first use and reused: the kernel
   * copies the bytes during the ioctl.
   */
  userBytes(bytes: Uint8Array): bigint {
    if (bytes.length > 4096) throw new Error("demo: userBytes takes one page at most");
    if (this.scratch === undefined) {
      const m = must(
        this.log.dispatch({
          type: "mm.mmap",
          data: { pid: this.pid, length: 4096n, prot: 3, shared: false },
        }),
        "mmap",
      );
      this.scratch = dataOf<{ addr: bigint }>(m, "mm.mapped").addr;
    }
    must(this.log.dispatch({ type: "mm.write", data: { pid: this.pid, va: this.scratch, bytes } }), "write");
    return this.scratch;
  }
}
