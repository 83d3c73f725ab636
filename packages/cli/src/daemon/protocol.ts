/**
 * The shim ↔ daemon wire protocol, version 1 (specified in
 * packages/cli/docs/protocol.md; shim/iommu_sim_preload.c mirrors these
 * numbers).
 *
 * Every message is a frame: a 12-byte header then a body, little endian.
 *
 * | offset | size | field                                                  |
 * | ------ | ---- | ------------------------------------------------------ |
 * | 0      | 4    | `length`: bytes of the whole frame, header included     |
 * | 4      | 2    | `type`: a request type, or request type \| 0x8000 (reply) |
 * | 6      | 2    | `flags`: 0                                             |
 * | 8      | 4    | `tag`: chosen by the client, echoed in the reply        |
 *
 * The client sends one request and waits for its reply (the shim holds a
 * lock around each round trip), so frames are never interleaved.
 */

/** The protocol version this daemon speaks (HELLO carries the client's). */
export const PROTOCOL_VERSION = 2;
/** Bytes of a frame header. */
export const HEADER_SIZE = 12;
/** The largest frame accepted (a path is at most PATH_MAX = 4096 bytes). */
export const MAX_FRAME = 8192;
/** Set in `type` on replies. */
export const REPLY = 0x8000;

/** Request types (client → daemon); the reply's type is `type | REPLY`. */
export const MSG = {
  /** `u32 version, u32 pid, u64 nonce_va, u8 nonce[16], u64 fork_token` → HELLO reply. */
  HELLO: 1,
  /** `u32 flags, u32 mode, u8 path[]` (no NUL) → `i64` file id (> 0) or −errno. */
  OPEN: 2,
  /** `u32 file` → `i64` 0 or −errno: this process lets go of the file. */
  CLOSE: 3,
  /** `u32 file, u32 request, u64 arg` → `i64` ioctl result or −errno. */
  IOCTL: 4,
  /** `u32 file, u32 0, u64 buf_va, u64 count` → `i64` bytes read or −errno. */
  READ: 5,
  /** `u32 file, u32 0, u64 buf_va, u64 count` → `i64` bytes written or −errno. */
  WRITE: 6,
  /** `u32 file, u16 events, u16 0` → `i64` revents (poll.h bits) or −errno. */
  POLL: 7,
  /** (empty) → `i64` fork token (> 0): the daemon holds this process's files for a child. */
  FORK: 8,
  /** `u64 token` → `i64` 0: fork failed, drop the held files. */
  FORK_CANCEL: 9,
  /** `u64 token, u32 child_pid, u32 0` → `i64` 0: the fork made `child_pid`, which will claim `token`. */
  FORK_DONE: 10,
  /** `u64 addr, u64 length` → `i64` 0: the process unmapped (or MAP_FIXED-replaced) that range of its memory. */
  MUNMAP: 11,
  /**
   * `u32 fd, u32 size` → `i64` 0 or −errno: serve this process's requests
   * through the shared slot in its memfd `fd` of `size` = SHM_SIZE bytes
   * (shm.ts). Sent on the socket only.
   */
  SHM_ATTACH: 12,
  /**
   * (empty), no reply: a request is waiting in the shared slot and the
   * daemon was not polling it. Daemon → shim, `WAKE | REPLY` (no body): the
   * reply is in the slot and the shim said it sleeps. Without a slot,
   * answered −ENXIO like any request.
   */
  WAKE: 13,
} as const;

/** A request type name. */
export type MsgName = keyof typeof MSG;

/** One decoded frame. `body` is a view into the receive buffer: use it before the next frame. */
export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly tag: number;
  readonly body: Uint8Array;
}

/** Why a byte stream stopped being a protocol stream (the daemon then drops the connection). */
export interface FrameError {
  readonly error: string;
}

/**
 * Splits a byte stream into frames. A frame whose `length` is below the
 * header size or above `MAX_FRAME` cannot be resynchronised: `next()`
 * answers a `FrameError` and the connection must be dropped.
 */
export class FrameDecoder {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;

  /** Append received bytes. */
  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(2 * (live + chunk.length), 4096));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next complete frame, `undefined` when more bytes are needed, or a `FrameError`. */
  next(): Frame | FrameError | undefined {
    const avail = this.end - this.start;
    if (avail < 4) return undefined;
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.start, avail);
    const length = dv.getUint32(0, true);
    if (length < HEADER_SIZE || length > MAX_FRAME) {
      return { error: `frame length ${length} outside [${HEADER_SIZE}, ${MAX_FRAME}]` };
    }
    if (avail < length) return undefined;
    const frame: Frame = {
      type: dv.getUint16(4, true),
      flags: dv.getUint16(6, true),
      tag: dv.getUint32(8, true),
      body: this.buf.subarray(this.start + HEADER_SIZE, this.start + length),
    };
    this.start += length;
    if (this.start === this.end) this.start = this.end = 0;
    return frame;
  }
}

/** A frame's bytes: header + body. */
export function encodeFrame(type: number, tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, tag >>> 0, true);
  out.set(body, HEADER_SIZE);
  return out;
}

/** Store `v` as a little-endian u32 at `at`. */
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}

/** Store `v` (within i64) as a little-endian two's-complement i64 at `at`. */
function putI64(out: Uint8Array, at: number, v: number | bigint): void {
  if (typeof v === "number" && Number.isSafeInteger(v)) {
    putU32(out, at, v >>> 0);
    putU32(out, at + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
  } else {
    const b = BigInt.asUintN(64, BigInt(v));
    putU32(out, at, Number(b & 0xffff_ffffn));
    putU32(out, at + 4, Number(b >> 32n));
  }
}

/**
 * The common reply: a frame whose body is one `i64` (a result or −errno).
 * Written byte by byte: a DataView over a fresh 20-byte array would move it
 * off-heap (an external allocation per reply, ≈ 0.27 µs).
 */
export function encodeResult(requestType: number, tag: number, value: number | bigint): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + 8);
  putU32(out, 0, out.length);
  out[4] = requestType & 0xff;
  out[5] = ((requestType | REPLY) >>> 8) & 0xff;
  putU32(out, 8, tag >>> 0);
  putI64(out, HEADER_SIZE, value);
  return out;
}

/** An fd the shim installs after an IOCTL reply: number `fd` in the program, daemon file `file`. */
export interface Install {
  readonly fd: number;
  readonly file: number;
}

/**
 * The IOCTL reply: `i64` result, then — when the ioctl created files —
 * `u32 count, count × (i32 fd, u32 file)`: fds the shim installs as
 * placeholders for those daemon files (protocol.md, "Installed fds").
 */
export function encodeIoctlReply(
  tag: number,
  value: number | bigint,
  installs: readonly Install[],
): Uint8Array {
  if (installs.length === 0) return encodeResult(MSG.IOCTL, tag, value);
  const body = new Uint8Array(12 + 8 * installs.length);
  const dv = new DataView(body.buffer);
  dv.setBigInt64(0, BigInt(value), true);
  dv.setUint32(8, installs.length, true);
  installs.forEach((x, i) => {
    dv.setInt32(12 + 8 * i, x.fd, true);
    dv.setUint32(16 + 8 * i, x.file, true);
  });
  return encodeFrame(MSG.IOCTL | REPLY, tag, body);
}

/** What a HELLO carries. */
export interface Hello {
  readonly version: number;
  readonly pid: number;
  /** Where the client keeps `nonce` in its own memory (user VA, bytes). */
  readonly nonceVa: bigint;
  readonly nonce: Uint8Array;
  /** A FORK token to claim (0 = none). */
  readonly forkToken: bigint;
}

/** Bytes of a HELLO body. */
export const HELLO_SIZE = 40;

/** Decode a HELLO body; `undefined` if it is too short. */
export function decodeHello(body: Uint8Array): Hello | undefined {
  if (body.length < HELLO_SIZE) return undefined;
  const dv = new DataView(body.buffer, body.byteOffset, body.length);
  return {
    version: dv.getUint32(0, true),
    pid: dv.getUint32(4, true),
    nonceVa: dv.getBigUint64(8, true),
    nonce: body.slice(16, 32),
    forkToken: dv.getBigUint64(32, true),
  };
}

/**
 * The HELLO reply body: `i32 status, u32 version, u16 reason_len,
 * u8 reason[reason_len], u16 count, count × (u16 len, u8 path[len])`.
 * `status` is 0 or −errno; `reason` says why in one line (the shim prints
 * it); the paths are the namespace the daemon serves: an entry ending in
 * "/" is a prefix, any other an exact path.
 */
export function encodeHelloReply(
  tag: number,
  status: number,
  reason: string,
  namespace: readonly string[],
): Uint8Array {
  const enc = new TextEncoder();
  const r = enc.encode(reason).subarray(0, 1024);
  const paths = namespace.map((p) => enc.encode(p));
  const size = 4 + 4 + 2 + r.length + 2 + paths.reduce((n, p) => n + 2 + p.length, 0);
  const body = new Uint8Array(size);
  const dv = new DataView(body.buffer);
  dv.setInt32(0, status, true);
  dv.setUint32(4, PROTOCOL_VERSION, true);
  dv.setUint16(8, r.length, true);
  body.set(r, 10);
  let off = 10 + r.length;
  dv.setUint16(off, paths.length, true);
  off += 2;
  for (const p of paths) {
    dv.setUint16(off, p.length, true);
    body.set(p, off + 2);
    off += 2 + p.length;
  }
  return encodeFrame(MSG.HELLO | REPLY, tag, body);
}
