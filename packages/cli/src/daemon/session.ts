/**
 * One client connection = one process (the pid its HELLO names, proven by
 * reading the HELLO's nonce back from that process's memory). The session
 * answers one request frame at a time; see protocol.ts for the frames.
 *
 * Robustness: nothing a client sends can throw out of `handle` — short
 * bodies answer −EPROTO, unknown types −ENOSYS, a bad frame length or a
 * request before HELLO ends the connection, and an exception inside the
 * model is caught, reported through `onInternalError` and answered −EIO.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { isErrno } from "@iommu-sim/uapi";
import { processAlive as alive } from "../memory/proc-info";
import type { Caller, DriverRegistry, OpenFile } from "./driver";
import { DEVICE_NAMESPACE, POLLERR, POLLIN, POLLOUT } from "./driver";
import type { FileTable } from "./files";
import { ProcMemory } from "./memory";
import {
  decodeHello,
  encodeHelloReply,
  encodeIoctlReply,
  encodeResult,
  type Frame,
  type Install,
  MSG,
  PROTOCOL_VERSION,
} from "./protocol";

const ENOENT = -2;
const EBADF = -9;
const EINVAL = -22;
const ENOSYS = -38;
const EPROTO = -71;
const EIO = -5;
const EMFILE = -24;
/** The shim's fd map is a flat array of this many entries (MAX_FD in the shim). */
const MAX_FD = 65536;
/** Linux MAX_RW_COUNT: a read/write moves at most INT_MAX rounded down to a page. */
const MAX_RW_COUNT = 0x7fff_f000;
/** poll.h: POLLHUP, POLLNVAL, POLLRDNORM, POLLWRNORM. */
const POLLHUP = 0x010;
const POLLNVAL = 0x020;
const DEFAULT_POLLMASK = POLLIN | POLLOUT | 0x040 | 0x100;

/** What sessions of one daemon share. */
export interface SessionShared {
  readonly registry: DriverRegistry;
  readonly files: FileTable;
  /** Files held for forked children until they claim them, by token. */
  readonly forks: Map<bigint, PendingFork>;
  /** Live connections per pid (threads share one; an exec'd image opens a new one before the old closes). */
  readonly connections: Map<number, number>;
  /** The last connection of `pid` ended, after its files were let go. */
  onProcessExit(pid: number): void;
  /** Process `pid` unmapped [addr, addr + length) of its memory (MUNMAP). */
  onProcessUnmap(pid: number, addr: bigint, length: bigint): void;
  /** A bug in the model or a driver (an exception); the request is answered −EIO. */
  onInternalError(error: unknown): void;
}

/**
 * Files a forking process had, held for its child until the child's HELLO
 * claims them. `child` is set by FORK_DONE; `parentGone` once the forking
 * connection has ended.
 */
export interface PendingFork {
  readonly ids: readonly number[];
  child?: number;
  parentGone: boolean;
  readonly owner: Session;
}

/**
 * Drop the pending forks nobody can claim any more: the forking process is
 * gone and its child is unknown (it never said FORK_DONE) or dead.
 */
function sweepForks(shared: SessionShared): void {
  for (const [token, f] of shared.forks) {
    if (!f.parentGone || (f.child !== undefined && alive(f.child))) continue;
    shared.forks.delete(token);
    for (const id of f.ids) shared.files.drop(id);
  }
}

/** What a handled frame asks the connection to do. */
export type Reply = { readonly send: Uint8Array; readonly close?: boolean } | { readonly close: true };

/**
 * The lowest fd number free in process `pid` (Linux's get_unused_fd_flags()
 * picks the lowest), skipping `taken`; EMFILE when none below MAX_FD is.
 */
function lowestFreeFd(pid: number, taken: readonly number[]): number {
  let used: Set<number>;
  try {
    used = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  } catch {
    return EMFILE;
  }
  for (let fd = 0; fd < MAX_FD; fd++) if (!used.has(fd) && !taken.includes(fd)) return fd;
  return EMFILE;
}

/**
 * The daemon file behind fd `fd` of process `pid`, if it is one of the
 * shim's placeholders: an eventfd whose counter is the file id
 * (/proc/<pid>/fdinfo/<fd>, fs/eventfd.c eventfd_show_fdinfo()). The caller
 * checks that the process holds that file.
 */
function placeholderFile(pid: number, fd: number): number | undefined {
  if (!Number.isInteger(fd) || fd < 0) return undefined;
  let info: string;
  try {
    info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1");
  } catch {
    return undefined;
  }
  const m = /^eventfd-count:\s*([0-9a-f]+)$/m.exec(info);
  return m === null ? undefined : Number.parseInt(m[1]!, 16);
}

/** The state of one connection. */
export class Session {
  private caller: (Caller & { memory: ProcMemory }) | undefined;
  private readonly held = new Set<number>();
  /** fds installed by the current ioctl (sent with its reply). */
  private installs: Install[] = [];

  constructor(private readonly shared: SessionShared) {}

  /** The pid this connection speaks for (after HELLO). */
  get pid(): number | undefined {
    return this.caller?.pid;
  }

  /** Answer one frame. Never throws. */
  handle(frame: Frame): Reply {
    try {
      if (this.caller === undefined) return frame.type === MSG.HELLO ? this.hello(frame) : { close: true };
      if (this.installs.length !== 0) this.installs = [];
      const result = this.request(frame, this.caller);
      if (frame.type === MSG.IOCTL) return { send: encodeIoctlReply(frame.tag, result, this.installs) };
      return { send: encodeResult(frame.type, frame.tag, result) };
    } catch (e) {
      this.shared.onInternalError(e);
      return this.caller === undefined ? { close: true } : { send: encodeResult(frame.type, frame.tag, EIO) };
    }
  }

  /** The process went away (exit, or the connection closed): let go of everything it held. */
  end(): void {
    for (const id of this.held) this.safely(() => this.shared.files.drop(id));
    this.held.clear();
    for (const f of this.shared.forks.values()) if (f.owner === this) f.parentGone = true;
    this.safely(() => sweepForks(this.shared));
    const pid = this.caller?.pid;
    if (pid !== undefined) {
      const n = (this.shared.connections.get(pid) ?? 1) - 1;
      if (n > 0) this.shared.connections.set(pid, n);
      else {
        this.shared.connections.delete(pid);
        this.safely(() => this.shared.onProcessExit(pid));
      }
    }
    this.caller?.memory.close();
    this.caller = undefined;
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.shared.onInternalError(e);
    }
  }

  /** HELLO: prove the pid, open its memory, claim a fork token's files, answer the namespace. */
  private hello(frame: Frame): Reply {
    const fail = (status: number, reason: string): Reply => ({
      send: encodeHelloReply(frame.tag, status, reason, []),
      close: true,
    });
    const h = decodeHello(frame.body);
    if (h === undefined) return fail(EPROTO, "HELLO too short");
    if (h.version !== PROTOCOL_VERSION) {
      return fail(EPROTO, `protocol version ${h.version}; this daemon speaks ${PROTOCOL_VERSION}`);
    }
    const memory = ProcMemory.open(h.pid);
    if (isErrno(memory)) return fail(memory.ret, memory.reason ?? memory.name);
    // The nonce proves the client speaks for `pid`: it is in that process's memory.
    const seen = memory.read(h.nonceVa, h.nonce.length);
    if (isErrno(seen) || !seen.every((b, i) => b === h.nonce[i])) {
      memory.close();
      return fail(-1 /* EPERM */, `pid ${h.pid} does not hold the HELLO nonce: not the caller's pid`);
    }
    this.caller = {
      pid: h.pid,
      memory,
      installFile: (file, path) => this.install(h.pid, file, path),
      fileAt: (fd) => {
        const pending = this.installs.find((x) => x.fd === fd);
        const id = pending?.file ?? placeholderFile(h.pid, fd);
        return id === undefined ? undefined : this.file(id);
      },
    };
    this.shared.connections.set(h.pid, (this.shared.connections.get(h.pid) ?? 0) + 1);
    if (h.forkToken !== 0n) {
      const inherited = this.shared.forks.get(h.forkToken);
      this.shared.forks.delete(h.forkToken);
      for (const id of inherited?.ids ?? []) this.held.add(id);
    }
    return { send: encodeHelloReply(frame.tag, 0, "", DEVICE_NAMESPACE) };
  }

  /** Any request after HELLO: its `i64` result (≥ 0) or −errno. */
  private request(frame: Frame, caller: Caller & { memory: ProcMemory }): number | bigint {
    const b = frame.body;
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const need = (n: number) => b.length >= n;
    switch (frame.type) {
      case MSG.OPEN:
        return need(8) ? this.open(dv.getUint32(0, true), b.subarray(8), caller) : EPROTO;
      case MSG.CLOSE: {
        if (!need(4)) return EPROTO;
        const id = dv.getUint32(0, true);
        if (!this.held.delete(id)) return EBADF;
        this.shared.files.drop(id);
        return 0;
      }
      case MSG.IOCTL: {
        if (!need(16)) return EPROTO;
        const file = this.file(dv.getUint32(0, true));
        if (file === undefined) return EBADF;
        const request = dv.getUint32(4, true);
        const arg = dv.getBigUint64(8, true);
        // Bytes after the 16 are the shim's copy of memory at `arg` (protocol.md, IOCTL).
        if (b.length === 16 || !caller.memory.beginSnapshot(arg, b.subarray(16)))
          return file.ioctl(caller, request, arg);
        try {
          return file.ioctl(caller, request, arg);
        } finally {
          caller.memory.endSnapshot();
        }
      }
      case MSG.READ:
      case MSG.WRITE: {
        if (!need(24)) return EPROTO;
        const file = this.file(dv.getUint32(0, true));
        if (file === undefined) return EBADF;
        const buf = dv.getBigUint64(8, true);
        const raw = dv.getBigUint64(16, true);
        const count = raw > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(raw);
        const op = frame.type === MSG.READ ? file.read : file.write;
        return op === undefined ? EINVAL : op.call(file, caller, buf, count);
      }
      case MSG.POLL: {
        if (!need(4)) return EPROTO;
        const file = this.file(dv.getUint32(0, true));
        if (file === undefined) return POLLNVAL;
        const events = b.length >= 6 ? dv.getUint16(4, true) : 0;
        const mask = file.poll?.(events) ?? DEFAULT_POLLMASK;
        return mask & (events | POLLERR | POLLHUP);
      }
      case MSG.FORK: {
        // Unguessable, so that no other client can claim this process's
        // files; positive as an i64 reply (62 random bits, never 0).
        const token = (randomBytes(8).readBigUInt64LE() >> 2n) | 1n;
        const ids = [...this.held];
        for (const id of ids) this.shared.files.hold(id);
        this.shared.forks.set(token, { ids, parentGone: false, owner: this });
        return token;
      }
      case MSG.FORK_CANCEL: {
        if (!need(8)) return EPROTO;
        const token = dv.getBigUint64(0, true);
        const f = this.shared.forks.get(token);
        if (f === undefined || f.owner !== this) return 0;
        this.shared.forks.delete(token);
        for (const id of f.ids) this.shared.files.drop(id);
        return 0;
      }
      case MSG.MUNMAP: {
        if (!need(16)) return EPROTO;
        this.shared.onProcessUnmap(caller.pid, dv.getBigUint64(0, true), dv.getBigUint64(8, true));
        return 0;
      }
      case MSG.FORK_DONE: {
        if (!need(12)) return EPROTO;
        const f = this.shared.forks.get(dv.getBigUint64(0, true));
        if (f !== undefined && f.owner === this) f.child = dv.getUint32(8, true);
        return 0;
      }
      default:
        return ENOSYS;
    }
  }

  /** A file an ioctl created: held by this process, at the lowest free fd (sent with the reply). */
  private install(pid: number, file: OpenFile, path: string): number {
    const fd = lowestFreeFd(
      pid,
      this.installs.map((x) => x.fd),
    );
    // Nothing is installed on failure; the ioctl decides what becomes of the object (Linux's goto out_fput).
    if (fd < 0) return fd;
    const id = this.shared.files.add(file, path);
    this.held.add(id);
    this.installs.push({ fd, file: id });
    return fd;
  }

  /** The open file `id` if this process holds it (else it is not this process's: EBADF). */
  private file(id: number): OpenFile | undefined {
    return this.held.has(id) ? this.shared.files.get(id) : undefined;
  }

  /** OPEN: a new file from the driver of `path`; ENOENT outside the namespace or where no driver claims it. */
  private open(flags: number, rawPath: Uint8Array, caller: Caller): number {
    const path = new TextDecoder().decode(rawPath);
    if (!this.shared.registry.serves(path)) return ENOENT;
    const driver = this.shared.registry.lookup(path);
    if (isErrno(driver)) return driver.ret;
    const file = driver.open(path, flags, caller);
    if (isErrno(file)) return file.ret;
    const id = this.shared.files.add(file, path);
    this.held.add(id);
    return id;
  }
}
