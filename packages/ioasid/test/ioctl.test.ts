/**
 * /dev/ioasid at the byte level. Request numbers are the RFC's
 * `_IO('i', 100 + n)` worked out by hand from asm-generic/ioctl.h
 * (dir 0, size 0, type 0x69 << 8, nr): 0x6964 … 0x6967.
 */
import { describe, expect, it } from "vitest";
import { ioasidIoctl } from "../src/index";
import { open, run, slice, system } from "./fixture";

const GET_API_VERSION = 0x6964;
const GET_INFO = 0x6965;
const REQUEST_ALLOC = 0x6966;
const REQUEST_FREE = 0x6967;
const EINVAL = -22;
const EFAULT = -14;
const EBADF = -9;
const EPERM = -1;

/** struct ioasid_info { u32 argsz, flags, ioasid_bits } */
function info(argsz: number, flags = 0, bits = 0xdeadbeef): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, argsz, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, bits, true);
  return b;
}

/** struct ioasid_alloc_request { u32 argsz, flags; struct { u32 min, max } range } */
function allocReq(min: number, max: number, argsz = 16, flags = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, argsz, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, min, true);
  v.setUint32(12, max, true);
  return b;
}

/** The C int argument of IOASID_REQUEST_FREE. */
function int(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, x, true);
  return b;
}

describe("ioasidIoctl", () => {
  it("IOASID_GET_API_VERSION returns 0", () => {
    const log = system();
    const fd = open(log, 100);
    expect(ioasidIoctl(log, 100, fd, GET_API_VERSION, new Uint8Array(0))).toBe(0);
  });

  it("IOASID_GET_INFO writes ioasid_bits = 31 and keeps argsz/flags", () => {
    const log = system();
    const fd = open(log, 100);
    const arg = info(12);
    expect(ioasidIoctl(log, 100, fd, GET_INFO, arg)).toBe(0);
    expect([...arg]).toEqual([12, 0, 0, 0, 0, 0, 0, 0, 31, 0, 0, 0]);
  });

  it("IOASID_GET_INFO: argsz < 12 or flags ≠ 0 → -EINVAL; a short buffer → -EFAULT; arg untouched", () => {
    const log = system();
    const fd = open(log, 100);
    const small = info(11);
    expect(ioasidIoctl(log, 100, fd, GET_INFO, small)).toBe(EINVAL);
    expect(new DataView(small.buffer).getUint32(8, true)).toBe(0xdeadbeef);
    expect(ioasidIoctl(log, 100, fd, GET_INFO, info(12, 1))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, GET_INFO, new Uint8Array(8))).toBe(EFAULT);
    // A larger argsz is fine (argsz rule): the kernel fills its 12 bytes.
    expect(ioasidIoctl(log, 100, fd, GET_INFO, info(64))).toBe(0);
  });

  it("IOASID_REQUEST_ALLOC returns the PASID; bad ranges and exhausted ranges → -EINVAL", () => {
    const log = system();
    const fd = open(log, 100);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(0, 1000))).toBe(1);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(0, 1000))).toBe(2);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(2, 2))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(9, 8))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(0, 0x80000000))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(0, 10, 15))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, REQUEST_ALLOC, allocReq(0, 10, 16, 1))).toBe(EINVAL);
  });

  it("IOASID_REQUEST_FREE returns 0 — also for an id not in the caller's set (ioasid_free() is void)", () => {
    const log = system();
    const a = open(log, 100);
    const b = open(log, 200);
    const theirs = ioasidIoctl(log, 200, b, REQUEST_ALLOC, allocReq(0, 100));
    expect(ioasidIoctl(log, 100, a, REQUEST_ALLOC, allocReq(0, 100))).toBe(2);
    expect(ioasidIoctl(log, 100, a, REQUEST_FREE, int(2))).toBe(0);
    expect(ioasidIoctl(log, 100, a, REQUEST_FREE, int(2))).toBe(0); // double free: nothing happens
    expect(ioasidIoctl(log, 100, a, REQUEST_FREE, int(theirs))).toBe(0);
    expect(slice(log).space.has(theirs)).toBe(true); // still allocated to pid 200
    expect(slice(log).space.has(2)).toBe(false);
    expect(ioasidIoctl(log, 100, a, REQUEST_FREE, int(-1))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, a, REQUEST_FREE, new Uint8Array(2))).toBe(EFAULT);
  });

  it("an fd the process does not hold → -EBADF; requests through a transferred fd → -EPERM", () => {
    const log = system();
    const fd = open(log, 100);
    expect(ioasidIoctl(log, 999, fd, GET_API_VERSION, new Uint8Array(0))).toBe(EBADF);
    run(log, { type: "ioasid.process.fork", data: { parent: 100, child: 101 } });
    expect(ioasidIoctl(log, 101, fd, GET_API_VERSION, new Uint8Array(0))).toBe(0);
    expect(ioasidIoctl(log, 101, fd, GET_INFO, info(12))).toBe(0);
    expect(ioasidIoctl(log, 101, fd, REQUEST_ALLOC, allocReq(0, 10))).toBe(EPERM);
    expect(ioasidIoctl(log, 101, fd, REQUEST_FREE, int(1))).toBe(EPERM);
  });

  it("an unknown request → -EINVAL (the RFC's default case), not -ENOTTY", () => {
    const log = system();
    const fd = open(log, 100);
    expect(ioasidIoctl(log, 100, fd, 0x6968, new Uint8Array(16))).toBe(EINVAL);
    expect(ioasidIoctl(log, 100, fd, 0x3b70, new Uint8Array(16))).toBe(EINVAL); // VFIO_GET_API_VERSION
  });
});
