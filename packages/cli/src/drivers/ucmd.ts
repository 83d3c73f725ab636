/**
 * The kernel-side copy of an iommufd ioctl's argument struct (Linux
 * drivers/iommu/iommufd/main.c: `union ucmd_buffer` on
 * iommufd_fops_ioctl()'s stack, filled by copy_struct_from_user()).
 *
 * A `UcmdBuffer` is one reusable buffer per open context: the caller's
 * struct is read into it, iommufdIoctl decodes it and answers into it, and
 * only when the answer changed bytes are they written back
 * (copy_to_user). Reusing it, rather than allocating a fresh array per
 * call, is the point: the buffer's ArrayBuffer is allocated once, where a
 * fresh small array is materialised off-heap by the first DataView over it
 * — an external allocation per ioctl that the garbage collector then has
 * to sweep (issue #10, `cli.model.map4k`).
 */
import {
  type Errno,
  errno,
  IOMMU_IOCTL,
  type IommufdIoctlOp,
  iommufdIoctlOp,
  isErrno,
} from "@iommu-sim/uapi";
import type { CallerMemory } from "../daemon/driver";

/** check_zeroed_user reads the tail in chunks of this many bytes. */
const ZERO_CHUNK = 64 * 1024;

/** The largest argument struct of iommufd's ioctl table, in bytes (IOMMU_TEST_CMD's 72 today). */
export const UCMD_SIZE: number = Math.max(
  ...Object.values(IOMMU_IOCTL).map((request) => iommufdIoctlOp(request)?.size ?? 0),
);

/**
 * Read `target.length` bytes at user VA `va` into `target`: through the
 * memory's own `readInto` when it has one (no allocation), else a `read`
 * and a copy. @returns undefined, or the read's Errno (EFAULT…); `target`
 * is then partly written.
 */
function readInto(memory: CallerMemory, va: bigint, target: Uint8Array): Errno | undefined {
  if (memory.readInto !== undefined) return memory.readInto(va, target);
  const bytes = memory.read(va, target.length);
  if (isErrno(bytes)) return bytes;
  target.set(bytes);
  return undefined;
}

/**
 * Linux lib/usercopy.c check_zeroed_user(): whether `length` bytes at `va`
 * are all zero. The first non-zero chunk answers E2BIG before a later
 * unreadable one answers EFAULT, as the kernel walks the range in order.
 */
function checkZeroed(memory: CallerMemory, va: bigint, length: number): Errno | undefined {
  for (let done = 0; done < length; done += ZERO_CHUNK) {
    const chunk = memory.read(va + BigInt(done), Math.min(ZERO_CHUNK, length - done));
    if (isErrno(chunk)) return errno("EFAULT", chunk.reason);
    if (chunk.some((b) => b !== 0)) return errno("E2BIG", "non-zero bytes beyond the kernel's struct");
  }
  return undefined;
}

/** Little-endian u32 at byte 0 (the `__u32 size` every iommufd struct starts with). */
function sizeField(bytes: Uint8Array): number {
  return ((bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16)) >>> 0) + bytes[3]! * 0x100_0000;
}

/** Store `size` as the little-endian u32 at byte 0. */
function setSizeField(bytes: Uint8Array, size: number): void {
  bytes[0] = size & 0xff;
  bytes[1] = (size >>> 8) & 0xff;
  bytes[2] = (size >>> 16) & 0xff;
  bytes[3] = size >>> 24;
}

/**
 * One context's kernel-side argument buffer (see the module comment). Use:
 * `copyIn`, then iommufdIoctl on `arg`, then `copyOut`. Not re-entrant: a
 * caller that finds it `busy` (an ioctl issued while one is in flight on
 * the same file) uses a fresh one.
 */
export class UcmdBuffer {
  /** The kernel's struct: `arg` is a prefix of it. */
  private readonly kernel: Uint8Array;
  /** `kernel` as 32-bit words. */
  private readonly kernelWords: Uint32Array;
  /** `kernelWords` as copied in, to tell whether the command answered anything (a word at a time). */
  private readonly savedWords: Uint32Array;
  /** `kernel.subarray(0, n)` for each n, made once. */
  private readonly prefixes: Uint8Array[] = [];
  /** The struct of the call in flight: what iommufdIoctl reads and answers into. */
  arg: Uint8Array;
  /** The `size` the caller declared (may exceed the kernel's struct). */
  usize = 0;
  /** Between `copyIn` and `copyOut`. */
  busy = false;

  constructor(size = UCMD_SIZE) {
    const words = Math.ceil(size / 4);
    this.kernelWords = new Uint32Array(words);
    this.savedWords = new Uint32Array(words);
    this.kernel = new Uint8Array(this.kernelWords.buffer, 0, size);
    this.arg = this.prefix(0);
  }

  /** The first `n` bytes of the kernel buffer (n ≤ its size). */
  private prefix(n: number): Uint8Array {
    let p = this.prefixes[n];
    if (p === undefined) {
      p = this.kernel.subarray(0, n);
      this.prefixes[n] = p;
    }
    return p;
  }

  /**
   * Copy in the argument of iommufd op `op` (whose struct fits this buffer)
   * at user VA `va` the way iommufd_fops_ioctl() + copy_struct_from_user()
   * read it: the `__u32 size` (EFAULT if unreadable), then — for a size
   * within [minSize, kernel size] — `size` bytes; for a larger size, the
   * tail must be zero (E2BIG, or EFAULT where unreadable) and the kernel's
   * struct is read with `size` rewritten to the kernel size (`copyOut`
   * restores the caller's). A size below the minimum yields just the 4
   * size bytes, for iommufdIoctl to answer EINVAL. Marks the buffer busy
   * on success. @returns undefined (the struct is in `arg`), or the Errno.
   */
  copyIn(memory: CallerMemory, op: IommufdIoctlOp, va: bigint): Errno | undefined {
    // One read of the kernel's struct usually covers both the size and the
    // struct; reading more than `size` is unobservable, and when the struct
    // does not fit the mapping the exact reads below decide the errno.
    const whole = this.prefix(op.size);
    const wholeFailed = readInto(memory, va, whole) !== undefined;
    if (wholeFailed) {
      const head = readInto(memory, va, this.prefix(4));
      if (head !== undefined) return errno("EFAULT", head.reason);
    }
    const usize = sizeField(this.kernel);
    let arg: Uint8Array;
    if (usize < op.minSize) arg = this.prefix(4);
    else if (usize <= op.size) {
      arg = this.prefix(usize);
      const e = wholeFailed ? readInto(memory, va, arg) : undefined;
      if (e !== undefined) return errno("EFAULT", e.reason);
    } else {
      const tail = checkZeroed(memory, va + BigInt(op.size), usize - op.size);
      if (tail !== undefined) return tail;
      const e = wholeFailed ? readInto(memory, va, whole) : undefined;
      if (e !== undefined) return errno("EFAULT", e.reason);
      setSizeField(whole, op.size);
      arg = whole;
    }
    this.arg = arg;
    this.usize = usize;
    // The whole buffer, so that the words past `arg` compare equal in copyOut (nothing writes there).
    this.savedWords.set(this.kernelWords);
    this.busy = true;
    return undefined;
  }

  /**
   * End the call: when the command answered (changed bytes of `arg`),
   * write `arg` back to user VA `va` with the caller's own `size`
   * (copy_to_user of what the kernel copied in); bytes equal to the
   * caller's need no copy. @returns undefined, or EFAULT when the write
   * fails (iommufd_ucmd_respond()).
   */
  copyOut(memory: CallerMemory, op: IommufdIoctlOp, va: bigint): Errno | undefined {
    this.busy = false;
    const arg = this.arg;
    const k = this.kernelWords;
    const saved = this.savedWords;
    const words = (arg.length + 3) >>> 2;
    let changed = false;
    for (let i = 0; i < words; i++) {
      if (k[i] !== saved[i]) {
        changed = true;
        break;
      }
    }
    if (!changed) return undefined;
    if (this.usize > op.size) setSizeField(arg, this.usize);
    const e = memory.write(va, arg);
    return e === undefined ? undefined : errno("EFAULT", e.reason);
  }

  /** Give the buffer up without a copy-out (the call threw). */
  release(): void {
    this.busy = false;
  }
}
