/**
 * The /dev/iommu driver's argument copy (src/drivers/ucmd.ts): the rules of
 * Linux drivers/iommu/iommufd/main.c iommufd_fops_ioctl() +
 * include/linux/uaccess.h copy_struct_from_user() + iommufd_ucmd_respond(),
 * through the reused per-file buffer — checked end to end through the
 * driver on golden errnos, and against a naive allocate-per-call reference
 * with fast-check.
 */
import type { Message } from "@iommu-sim/eventlog";
import { type Errno, errno, IOMMU_IOCTL, iommufdIoctlOp, isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Caller, CallerMemory, OpenFile } from "../src/daemon/driver";
import { ProcMemory } from "../src/daemon/memory";
import { iommufdDriver } from "../src/drivers/iommufd";
import { UCMD_SIZE, UcmdBuffer } from "../src/drivers/ucmd";
import { createModelLog } from "../src/model";

const EFAULT = -14;
const EINVAL = -22;
const E2BIG = -7;
const EOPNOTSUPP = -95;
const ENOENT = -2;
/** Where the fake process's memory starts (bytes). */
const BASE = 0x1000;

/**
 * A process's memory: `readable` bytes at BASE, EFAULT elsewhere; writes
 * allowed unless `readOnly`. With `direct`, it offers `readInto` as the
 * daemon's ProcMemory does; without, the driver falls back to `read`.
 */
class FakeMemory implements CallerMemory {
  readonly bytes: Uint8Array;
  writes: { va: bigint; bytes: Uint8Array }[] = [];
  readInto?: (va: bigint, target: Uint8Array) => Errno | undefined;

  constructor(
    readable: number,
    direct: boolean,
    private readonly readOnly = false,
  ) {
    this.bytes = new Uint8Array(readable);
    if (direct) {
      this.readInto = (va, target) => {
        const r = this.read(va, target.length);
        if (isErrno(r)) return r;
        target.set(r);
        return undefined;
      };
    }
  }

  read(va: bigint, length: number): Uint8Array | Errno {
    const off = Number(va) - BASE;
    if (off < 0 || off + length > this.bytes.length) return errno("EFAULT", "unmapped");
    return this.bytes.slice(off, off + length);
  }

  write(va: bigint, bytes: Uint8Array): Errno | undefined {
    const off = Number(va) - BASE;
    if (this.readOnly || off < 0 || off + bytes.length > this.bytes.length)
      return errno("EFAULT", "read-only");
    this.writes.push({ va, bytes: bytes.slice() });
    this.bytes.set(bytes, off);
    return undefined;
  }
}

/** Little-endian u32 words as bytes. */
function words(...w: number[]): Uint8Array {
  const out = new Uint8Array(4 * w.length);
  const dv = new DataView(out.buffer);
  for (const [i, v] of w.entries()) dv.setUint32(4 * i, v, true);
  return out;
}

/** An open /dev/iommu on a fresh model, for a caller with `memory`. */
function open(memory: CallerMemory, onDispatch?: (c: Message) => void) {
  const log = createModelLog();
  const port = {
    dispatch: (c: Message) => {
      onDispatch?.(c);
      return log.dispatch(c);
    },
    peek: () => log.peek(),
  };
  const caller: Caller = { pid: 100, memory };
  const file = iommufdDriver(port).open("/dev/iommu", 2, caller);
  if (isErrno(file)) throw new Error(`open: ${file}`);
  return { file: file as OpenFile, caller, log };
}

describe.each([
  ["readInto", true],
  ["read", false],
])("IOMMU_IOAS_ALLOC copy-in and copy-out through %s", (_name, direct) => {
  it("answers out_ioas_id 1 (xarray ALLOC1) and copies back only the struct the caller gave", () => {
    const m = new FakeMemory(64, direct);
    m.bytes.set(words(12, 0, 0xdead), 0);
    const { file, caller } = open(m);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(0);
    expect([...m.bytes.subarray(0, 16)]).toEqual([...words(12, 0, 1, 0)]);
    expect(m.writes).toHaveLength(1);
  });

  it("a size below the minimum is EINVAL, with nothing written", () => {
    const m = new FakeMemory(64, direct);
    m.bytes.set(words(8, 0, 0), 0);
    const { file, caller, log } = open(m);
    const seq = log.seq;
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(EINVAL);
    expect(m.writes).toHaveLength(0);
    expect(log.seq).toBe(seq);
  });

  it("a larger size with a zero tail works and keeps the caller's size; a non-zero tail is E2BIG", () => {
    const m = new FakeMemory(64, direct);
    m.bytes.set(words(16, 0, 0, 0), 0);
    const { file, caller } = open(m);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(0);
    expect([...m.bytes.subarray(0, 16)]).toEqual([...words(16, 0, 1, 0)]);
    m.bytes.set(words(16, 0, 0, 0x100), 0);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(E2BIG);
    expect([...m.bytes.subarray(0, 16)]).toEqual([...words(16, 0, 0, 0x100)]);
  });

  it("an unreadable size, or a struct past the end of the mapping, is EFAULT", () => {
    const m = new FakeMemory(16, direct);
    m.bytes.set(words(12, 0), 8);
    const { file, caller } = open(m);
    // Size at BASE + 8 readable, but the 12-byte struct runs 4 bytes past the mapping.
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE + 8))).toBe(EFAULT);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE + 0x1000))).toBe(EFAULT);
    // A short size at the very end still reads (4 bytes) and is EINVAL, as the kernel's get_user.
    m.bytes.set(words(4), 12);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE + 12))).toBe(EINVAL);
  });

  it("unknown flags are EOPNOTSUPP and leave the struct as it was", () => {
    const m = new FakeMemory(64, direct);
    m.bytes.set(words(12, 1, 0), 0);
    const { file, caller } = open(m);
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(EOPNOTSUPP);
    expect(m.writes).toHaveLength(0);
  });

  it("a failed copy-out is EFAULT, though the command committed (iommufd_ucmd_respond)", () => {
    const m = new FakeMemory(64, direct, true);
    m.bytes.set(words(12, 0, 0), 0);
    const { file, caller, log } = open(m);
    const seq = log.seq;
    expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(EFAULT);
    expect(log.seq).toBeGreaterThan(seq);
  });
});

describe("the reused buffer", () => {
  it("an ioctl issued while another is in flight on the same file gets its own buffer", () => {
    const m = new FakeMemory(64, true);
    m.bytes.set(words(12, 0, 0), 0);
    m.bytes.set(words(12, 0, 0), 32);
    let nested = true;
    const ctx = open(m, (c) => {
      if (c.type !== "iommufd.ioas.alloc" || !nested) return;
      nested = false;
      expect(ctx.file.ioctl(ctx.caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE + 32))).toBe(0);
    });
    expect(ctx.file.ioctl(ctx.caller, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, BigInt(BASE))).toBe(0);
    // The nested call committed first: it got id 1, the outer one id 2, each in its own struct.
    expect([...m.bytes.subarray(32, 44)]).toEqual([...words(12, 0, 1)]);
    expect([...m.bytes.subarray(0, 12)]).toEqual([...words(12, 0, 2)]);
  });

  // sizeof(struct iommu_test_cmd), Linux drivers/iommu/iommufd/iommufd_test.h compiled on x86-64: 72.
  it("is as large as the largest struct of the table (IOMMU_TEST_CMD's 72 bytes)", () => {
    expect(UCMD_SIZE).toBe(72);
  });
});

/**
 * The naive reference: copy_struct_from_user with a fresh array per call —
 * the struct `arg` iommufdIoctl would see, or the errno. `readable` bytes
 * of `mem` are readable from the pointer on; the tail check covers at most
 * one 64 KiB chunk here.
 */
function reference(mem: Uint8Array, readable: number, size: number, minSize: number): number[] | number {
  if (readable < 4) return EFAULT;
  const usize = new DataView(mem.buffer, mem.byteOffset, 4).getUint32(0, true);
  if (usize < minSize) return [...mem.subarray(0, 4)];
  if (usize <= size) return readable < usize ? EFAULT : [...mem.subarray(0, usize)];
  if (readable < usize) return EFAULT;
  if (mem.subarray(size, usize).some((b) => b !== 0)) return E2BIG;
  const k = mem.slice(0, size);
  new DataView(k.buffer).setUint32(0, size, true);
  return [...k];
}

describe("UcmdBuffer against the reference", () => {
  const ops = [
    "IOMMU_IOAS_ALLOC",
    "IOMMU_IOAS_MAP",
    "IOMMU_HWPT_ALLOC",
    "IOMMU_TEST_CMD",
    "IOMMU_GET_HW_INFO",
  ]
    .map((n) => iommufdIoctlOp(IOMMU_IOCTL[n as keyof typeof IOMMU_IOCTL])!)
    .filter((op) => op !== undefined);

  it("copies in what copy_struct_from_user gives, call after call, and copies out only answers", () => {
    const call = fc.record({
      op: fc.constantFrom(...ops),
      size: fc.oneof(
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom(...ops.flatMap((op) => [op.minSize, op.minSize + 1, op.size - 1])),
        fc.constant(0xffff_ffff),
      ),
      body: fc.uint8Array({ minLength: 100, maxLength: 100 }),
      zeroTail: fc.boolean(),
      readable: fc.integer({ min: 0, max: 100 }),
      direct: fc.boolean(),
      // Which byte the command answers: none, the struct's last (a partial word), or any after `size`.
      answer: fc.option(fc.tuple(fc.oneof(fc.constant(-1), fc.nat()), fc.integer({ min: 0, max: 255 })), {
        nil: undefined,
      }),
    });
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 8 }), (calls) => {
        const ucmd = new UcmdBuffer();
        for (const c of calls) {
          const m = new FakeMemory(c.readable, c.direct);
          const bytes = c.body.slice();
          new DataView(bytes.buffer).setUint32(0, c.size, true);
          if (c.zeroTail) bytes.fill(0, c.op.size);
          m.bytes.set(bytes.subarray(0, c.readable));
          const want = reference(bytes, c.readable, c.op.size, c.op.minSize);
          const e = ucmd.copyIn(m, c.op, BigInt(BASE));
          if (typeof want === "number") {
            expect(e?.ret).toBe(want);
            expect(ucmd.busy).toBe(false);
            continue;
          }
          expect(e).toBeUndefined();
          expect([...ucmd.arg]).toEqual(want);
          // The command's answer: one byte after `size` changed (or none; iommufd never answers `size`).
          const len = ucmd.arg.length;
          const pick = c.answer?.[0] ?? 0;
          const at = c.answer === undefined || len <= 4 ? -1 : pick < 0 ? len - 1 : 4 + (pick % (len - 4));
          const changed = at >= 0 && ucmd.arg[at] !== c.answer![1];
          if (at >= 0) ucmd.arg[at] = c.answer![1];
          const expected = [...ucmd.arg];
          expect(ucmd.copyOut(m, c.op, BigInt(BASE))).toBeUndefined();
          expect(ucmd.busy).toBe(false);
          expect(m.writes).toHaveLength(changed ? 1 : 0);
          if (changed) {
            const out = [...m.writes[0]!.bytes];
            // Written back with the caller's own size.
            expect(new DataView(new Uint8Array(out).buffer).getUint32(0, true)).toBe(c.size >>> 0);
            expect(out.slice(4)).toEqual(expected.slice(4));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("the daemon's ProcMemory as the driver's memory", () => {
  /** 0x1000 is below mmap_min_addr: never mapped, so only a snapshot can answer there. */
  const VA = 0x1000n;

  it("readInto serves the request's snapshot, and /proc/<pid>/mem (EFAULT here) outside it and after it", () => {
    const memory = ProcMemory.open(process.pid);
    if (isErrno(memory)) throw new Error(memory.reason);
    try {
      expect(memory.beginSnapshot(VA, Uint8Array.of(1, 2, 3, 4))).toBe(true);
      const target = new Uint8Array(3);
      expect(memory.readInto(VA + 1n, target)).toBeUndefined();
      expect([...target]).toEqual([2, 3, 4]);
      expect(memory.readInto(VA, new Uint8Array(5))?.name).toBe("EFAULT");
      memory.endSnapshot();
      expect(memory.readInto(VA, new Uint8Array(4))?.name).toBe("EFAULT");
      // Nothing to stand for: an empty copy, or one beyond the loff_t range of /proc/<pid>/mem.
      expect(memory.beginSnapshot(VA, new Uint8Array(0))).toBe(false);
      expect(memory.beginSnapshot(1n << 63n, Uint8Array.of(1))).toBe(false);
      // More than 1 GiB is refused before anything is allocated.
      const big = memory.read(VA, (1 << 30) + 1);
      expect(isErrno(big) && big.name).toBe("ENOMEM");
    } finally {
      memory.close();
    }
  });

  it("an ioctl's struct is read from the snapshot: IOMMU_DESTROY of an unknown id is ENOENT, not EFAULT", () => {
    const memory = ProcMemory.open(process.pid);
    if (isErrno(memory)) throw new Error(memory.reason);
    try {
      const { file, caller } = open(memory);
      // struct iommu_destroy {__u32 size; __u32 id;}
      expect(memory.beginSnapshot(VA, words(8, 0x55))).toBe(true);
      expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_DESTROY, VA)).toBe(ENOENT);
      memory.endSnapshot();
      expect(file.ioctl(caller, IOMMU_IOCTL.IOMMU_DESTROY, VA)).toBe(EFAULT);
    } finally {
      memory.close();
    }
  });
});
