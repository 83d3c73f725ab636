/**
 * A VMM process and its guest RAM: one shared anonymous host mapping cut
 * into RAM blocks at guest-physical addresses, mapped for DMA with IOVA =
 * GPA — through the VFIO type1 container on /dev/vfio/vfio (QEMU
 * hw/vfio/container.c: VFIO_IOMMU_MAP_DMA per RAM block) or through
 * /dev/iommu directly (QEMU's iommufd backend, hw/vfio/iommufd.c:
 * IOMMU_IOAS_MAP). Browser-safe.
 */
import { readUser } from "@iommu-sim/iopt";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOCTL,
  iommuIoasAlloc,
  iommuIoasMap,
  isErrno,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOCTL,
  vfioIommuType1DmaMap,
} from "@iommu-sim/uapi";
import { dataOf, must, Process, type SystemLog } from "./fds";

/** A RAM block of a guest: `size` bytes at guest-physical `gpa`, backed at the VMM's user VA `va`. */
export interface RamBlock {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly va: bigint;
}

/** A VMM and its guest. */
export interface Vmm {
  readonly log: SystemLog;
  readonly process: Process;
  /** Guest RAM, ascending GPA. */
  readonly ram: readonly RamBlock[];
  /** Bytes the VMM touched before guest RAM so that its frames start 2 MiB-aligned. */
  readonly pad: bigint;
}

/** 4 KiB frames per 2 MiB page. */
const HUGE_FRAMES = 512;

/**
 * Let `pid` touch (write zeros to) just enough of a private buffer of its
 * own that the next frame the model's mm hands out is a multiple of
 * `frames`: mm allocates frames in order, so memory pinned next is
 * physically contiguous from an aligned frame — what a VMM gets from
 * hugepage-backed guest RAM, and what lets an IOMMU map it with large pages.
 * @returns the bytes touched.
 */
function alignNextFrames(log: SystemLog, pid: number, frames: number): bigint {
  const next = log.state.mm.nextPfn;
  const pad = BigInt(((frames - (next % frames)) % frames) * 4096);
  if (pad === 0n) return 0n;
  const m = must(
    log.dispatch({ type: "mm.mmap", data: { pid, length: pad, prot: 3, shared: false } }),
    "mmap",
  );
  const va = dataOf<{ addr: bigint }>(m, "mm.mapped").addr;
  must(log.dispatch({ type: "mm.write", data: { pid, va, bytes: new Uint8Array(Number(pad)) } }), "touch");
  return pad;
}

/**
 * Start VMM `pid` with guest RAM `layout` (GPA, size): spawn (memlock
 * raised to the RAM size plus 64 MiB, as libvirt does), one mmap for all
 * of RAM, cut into blocks in layout order.
 * @throws Error when a step fails (a demo bug).
 */
export function launchVmm(
  log: SystemLog,
  pid: number,
  layout: readonly { readonly gpa: bigint; readonly size: bigint }[],
): Vmm {
  const total = layout.reduce((n, b) => n + b.size, 0n);
  must(log.dispatch({ type: "mm.spawn", data: { pid, memlockLimit: total + (64n << 20n) } }), "spawn");
  const m = must(
    log.dispatch({ type: "mm.mmap", data: { pid, length: total, prot: 3, shared: true } }),
    "mmap",
  );
  const base = dataOf<{ addr: bigint }>(m, "mm.mapped").addr;
  const pad = alignNextFrames(log, pid, HUGE_FRAMES);
  let offset = 0n;
  const ram = layout.map((b) => {
    const block = { gpa: b.gpa, size: b.size, va: base + offset };
    offset += b.size;
    return block;
  });
  return { log, process: new Process(log, pid), ram, pad };
}

/** VFIO_IOMMU_MAP_DMA (read/write) of every RAM block at IOVA = GPA on container `fd`: the return values. */
export function mapDmaRam(vmm: Vmm, fd: number): number[] {
  return vmm.ram.map(
    (b) =>
      vmm.process.call(fd, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, vfioIommuType1DmaMap, {
        flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        vaddr: b.va,
        iova: b.gpa,
        size: b.size,
      }).rc,
  );
}

/** IOMMU_IOAS_ALLOC on iommufd `fd`, then IOMMU_IOAS_MAP of every RAM block at IOVA = GPA: the IOAS and the map returns. */
export function ioasRam(vmm: Vmm, fd: number): { ioas: number; rcs: number[] } {
  const ioas = vmm.process.call(fd, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, iommuIoasAlloc, {}).out.out_ioas_id;
  const rcs = vmm.ram.map(
    (b) =>
      vmm.process.call(fd, IOMMU_IOCTL.IOMMU_IOAS_MAP, iommuIoasMap, {
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        ioas_id: ioas,
        user_va: b.va,
        length: b.size,
        iova: b.gpa,
      }).rc,
  );
  return { ioas, rcs };
}

/** The VMM's user VA of guest-physical address `gpa`. @throws Error outside guest RAM (a demo bug). */
export function gpaToVa(vmm: Pick<Vmm, "ram">, gpa: bigint): bigint {
  const b = vmm.ram.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
  if (b === undefined) throw new Error(`demo: GPA 0x${gpa.toString(16)} is not guest RAM`);
  return b.va + (gpa - b.gpa);
}

/** The guest writes `bytes` at `gpa` (into the VMM's memory backing it). */
export function guestWrite(vmm: Vmm, gpa: bigint, bytes: Uint8Array): void {
  must(
    vmm.log.dispatch({ type: "mm.write", data: { pid: vmm.process.pid, va: gpaToVa(vmm, gpa), bytes } }),
    "guest write",
  );
}

/** `length` bytes of guest RAM at `gpa`, as text (the errno name when unreadable). */
export function guestText(vmm: Vmm, gpa: bigint, length: number): string {
  const b = readUser(vmm.log.state.mm, vmm.process.pid, gpaToVa(vmm, gpa), length);
  return isErrno(b) ? b.name : new TextDecoder().decode(b);
}

/** Little-endian bytes of 64-bit words (page-table entries, STE/CD words). */
export function u64s(words: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(words.length * 8);
  const v = new DataView(b.buffer);
  for (const [i, w] of words.entries()) v.setBigUint64(i * 8, w, true);
  return b;
}

/** A C string (NUL-terminated) of `s`: what a `char *` argument points at. */
export function cstr(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Little-endian bytes of a 32-bit int: what an `int *` argument points at. */
export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}
