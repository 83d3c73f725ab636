/**
 * A real process's memory, read and written through /proc/<pid>/mem: the
 * `UserMemory` behind every pointer in an ioctl struct of a program run
 * under `iommu-sim exec`, and later the pages device DMA reaches.
 *
 * Access needs ptrace-read rights on the process (Linux
 * fs/proc/base.c mem_open → mm_access(PTRACE_MODE_ATTACH)): root, or
 * CAP_SYS_PTRACE, or an ancestor under Yama ptrace_scope ≤ 1. Writes go
 * through FOLL_FORCE, so unlike copy_to_user they also reach read-only
 * pages; callers only write back what the kernel would.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import type { UserMemory } from "@iommu-sim/iommufd";
import { type Errno, errno } from "@iommu-sim/uapi";

/** The largest single transfer (1 GiB); larger ones are refused with ENOMEM rather than buffered. */
const MAX_TRANSFER = 1 << 30;
/** /proc/<pid>/mem offsets are loff_t: addresses from 2^63 up are not user addresses. */
const MAX_VA = (1n << 63n) - 1n;

/**
 * fs.writeSync takes a number position (a bigint one fails with EIO on
 * Node 20), so writes reach VAs below 2^53 — every user address on x86-64
 * and arm64 with 4- or 5-level paging except the top of a 57-bit space.
 */
const MAX_WRITE_VA = BigInt(Number.MAX_SAFE_INTEGER);

function outOfRange(va: bigint, length: number): boolean {
  return va < 0n || va + BigInt(length) > MAX_VA;
}

/**
 * The memory whose snapshot is live (one request is served at a time): a
 * write through any other process's memory drops it, since it may reach
 * the same shared page under another address.
 */
let snapshotHolder: ProcMemory | undefined;

/** /proc/<pid>/mem of one process, opened once. */
export class ProcMemory implements UserMemory {
  private fd: number;
  /** Bytes the shim copied from [va, va + bytes.length) when it made the current request (see withSnapshot). */
  private snapshot: { readonly va: bigint; readonly end: bigint; readonly bytes: Uint8Array } | undefined;

  private constructor(
    readonly pid: number,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Open /proc/<pid>/mem read-write.
   * @returns the memory, or an Errno: EACCES/EPERM when the daemon lacks
   *   the right to trace `pid` (its reason says what to do), ESRCH when no
   *   such process exists.
   */
  static open(pid: number): ProcMemory | Errno {
    try {
      return new ProcMemory(pid, openSync(`/proc/${pid}/mem`, "r+"));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM") {
        return errno(
          code,
          `cannot open /proc/${pid}/mem (${code}): the iommu-sim daemon must run as root (or with CAP_SYS_PTRACE) to reach the program's memory`,
        );
      }
      if (code === "ENOENT") return errno("ESRCH", `no process ${pid}`);
      return errno("EIO", `cannot open /proc/${pid}/mem: ${(e as Error).message}`);
    }
  }

  /**
   * Run `f` (one request of this process) with `bytes` standing for user
   * memory [va, va + bytes.length): the shim copied them from its own
   * memory when the program made the call (an ioctl's argument struct,
   * protocol.md "IOCTL"), so reads inside that range need no
   * /proc/<pid>/mem access. The program is inside the call meanwhile, so
   * the bytes are what copy_from_user would read; writes through this
   * memory update them, and a write through another process's memory
   * drops them (shared pages), as does the end of `f`.
   */
  withSnapshot<T>(va: bigint, bytes: Uint8Array, f: () => T): T {
    const taken = this.beginSnapshot(va, bytes);
    try {
      return f();
    } finally {
      if (taken) this.endSnapshot();
    }
  }

  /**
   * `withSnapshot` without a closure, for the daemon's per-request path:
   * `bytes` stand for [va, va + bytes.length) until `endSnapshot`, which
   * the caller must call (in a `finally`) when this returns true. Returns
   * false, taking nothing, for an empty or non-user range.
   */
  beginSnapshot(va: bigint, bytes: Uint8Array): boolean {
    if (bytes.length === 0 || outOfRange(va, bytes.length)) return false;
    this.snapshot = { va, end: va + BigInt(bytes.length), bytes };
    snapshotHolder = this;
    return true;
  }

  /** End the snapshot `beginSnapshot` took. */
  endSnapshot(): void {
    this.snapshot = undefined;
    if (snapshotHolder === this) snapshotHolder = undefined;
  }

  /** Copy `length` bytes from user VA `va` (copy_from_user); EFAULT where unmapped, ENOMEM beyond 1 GiB. */
  read(va: bigint, length: number): Uint8Array | Errno {
    if (length > MAX_TRANSFER) return errno("ENOMEM", `read of ${length} bytes`);
    const out = new Uint8Array(length);
    const e = this.readInto(va, out);
    return e === undefined ? out : e;
  }

  /**
   * Copy `target.length` bytes from user VA `va` into `target`
   * (copy_from_user into a buffer the caller owns): from the request's
   * snapshot when it covers them, else one pread of /proc/<pid>/mem.
   * @returns undefined, or EFAULT where unmapped (`target` is then partly
   * written); ENOMEM beyond 1 GiB.
   */
  readInto(va: bigint, target: Uint8Array): Errno | undefined {
    const length = target.length;
    if (length > MAX_TRANSFER) return errno("ENOMEM", `read of ${length} bytes`);
    if (outOfRange(va, length)) return errno("EFAULT", `0x${va.toString(16)} is not a user address`);
    const s = this.snapshot;
    if (s !== undefined && va >= s.va) {
      const at = Number(va - s.va);
      if (at + length <= s.bytes.length) {
        target.set(s.bytes.subarray(at, at + length));
        return undefined;
      }
    }
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(this.fd, target, done, length - done, va + BigInt(done));
      } catch {
        return errno("EFAULT", `unreadable user memory at 0x${(va + BigInt(done)).toString(16)}`);
      }
      if (n === 0) return errno("EFAULT", `unreadable user memory at 0x${(va + BigInt(done)).toString(16)}`);
      done += n;
    }
    return undefined;
  }

  /** Copy `bytes` to user VA `va` (copy_to_user); EFAULT where unmapped. */
  write(va: bigint, bytes: Uint8Array): Errno | undefined {
    if (outOfRange(va, bytes.length) || va + BigInt(bytes.length) > MAX_WRITE_VA) {
      return errno("EFAULT", `0x${va.toString(16)} is not a user address`);
    }
    let done = 0;
    while (done < bytes.length) {
      let n: number;
      try {
        n = writeSync(this.fd, bytes, done, bytes.length - done, Number(va) + done);
      } catch {
        return errno("EFAULT", `unwritable user memory at 0x${(va + BigInt(done)).toString(16)}`);
      }
      if (n === 0) return errno("EFAULT", `unwritable user memory at 0x${(va + BigInt(done)).toString(16)}`);
      done += n;
    }
    this.wrote(va, bytes);
    return undefined;
  }

  /** Keep the live snapshot true after a write of `bytes` at `va`. */
  private wrote(va: bigint, bytes: Uint8Array): void {
    if (snapshotHolder === undefined) return;
    if (snapshotHolder !== this) {
      snapshotHolder.snapshot = undefined;
      snapshotHolder = undefined;
      return;
    }
    const s = this.snapshot;
    if (s === undefined) return;
    const end = va + BigInt(bytes.length);
    const from = va > s.va ? va : s.va;
    const to = end < s.end ? end : s.end;
    if (from >= to) return;
    s.bytes.set(bytes.subarray(Number(from - va), Number(to - va)), Number(from - s.va));
  }

  /** Close the file (the process exited or disconnected). */
  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone with the process
    }
    this.fd = -1;
  }
}
