/**
 * The shared-memory transport (protocol.md, "Shared slot"): a program's
 * requests reach the daemon through a small memfd that the shim maps
 * MAP_SHARED and the daemon reads and writes with pread/pwrite
 * (fs.readSync/writeSync at offsets — tmpfs pages are the page cache, so
 * the daemon's reads see the shim's stores and vice versa), without a
 * native addon and without a socket round trip through the event loop.
 *
 * The slot (bytes, little-endian u32s):
 *
 * | offset | field      | written by | meaning                                                  |
 * | -----: | ---------- | ---------- | -------------------------------------------------------- |
 * |      0 | `req_seq`  | shim       | stored last, when the request at 16 and `req_sum` are complete |
 * |      4 | `req_sum`  | shim       | `slotSum(req_seq, request frame)`                         |
 * |      8 | `polling`  | daemon     | 1 while the daemon polls this slot (no WAKE needed)       |
 * |     12 | `sleeping` | shim       | 1 while the shim blocks on the socket for its reply       |
 * |     16 | `route`    | daemon     | 0: send requests here; 1: the CPUs are oversubscribed, send them on the socket |
 * |     32 | request    | shim       | one frame (protocol.ts), 12 ≤ length ≤ MAX_FRAME          |
 * |   8256 | `rep_seq`  | daemon     | the `req_seq` answered                                    |
 * |   8260 | `rep_sum`  | daemon     | `slotSum(rep_seq, reply frame)`                           |
 * |   8264 | reply      | daemon     | one frame                                                |
 *
 * One pread finds and reads a request, one pwrite stores a reply. A copy
 * the kernel makes with a string instruction may store (and load) its
 * bytes out of order, so a record is accepted only when its checksum
 * matches: the daemon re-reads a request whose sum does not match once
 * (the shim stored `req_seq` last, so a second read sees it whole) and
 * ends the connection if it still does not; the shim spins until the
 * reply's sum matches.
 *
 * No request is lost (a Dekker handshake on each side): the shim stores
 * the request, then `req_seq`, fences, and reads `polling` — clear, it
 * sends a WAKE frame on the socket. The daemon clears `polling`, fences,
 * and reads `req_seq` once more before it returns to the event loop. In
 * the other direction the daemon stores the reply, fences, and reads
 * `sleeping` in its next poll (it always polls once more before it goes
 * idle) — set, it sends `WAKE | REPLY` on the socket; the shim sets
 * `sleeping`, fences and re-reads `rep_seq` before it blocks. Each side
 * writes its flag before it reads the other's, so at least one of them
 * sees the other.
 *
 * Spinning pays only while the daemon and the program each have a CPU:
 * when other work oversubscribes the CPUs, a spinner waits for its next
 * time slice instead of being woken at once as a blocked task is. The
 * poller watches the kernel's CPU pressure (/proc/pressure/cpu, "some
 * avg10": the share of time runnable tasks waited for a CPU) and sets
 * `route` to 1 above ROUTE_SOCKET_PSI % (back to 0 below ROUTE_SLOT_PSI %):
 * the shim then makes its round trips on the socket, as without a slot.
 *
 * Nothing in the slot is trusted: a frame length outside [12, MAX_FRAME]
 * or a sum that stays wrong, a short read (the program truncated the
 * file) or an I/O error ends the connection, as a bad frame on the socket
 * does.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
  writeSync,
} from "node:fs";
import { type Errno, errno } from "@iommu-sim/uapi";
import { encodeFrame, type Frame, HEADER_SIZE, MAX_FRAME, MSG, REPLY } from "./protocol";
import type { Reply } from "./session";

/** The slot's layout (byte offsets) and size; shim/iommu_sim_preload.c mirrors it. */
export const SLOT = {
  /** Bytes of the memfd: header + request + reply, rounded up to 4 KiB pages. */
  SIZE: 20480,
  REQ_SEQ: 0,
  REQ_SUM: 4,
  POLLING: 8,
  SLEEPING: 12,
  /** Written by the daemon: 0 = requests through the slot, 1 = through the socket. */
  ROUTE: 16,
  /** The request frame. */
  REQ: 32,
  REP_SEQ: 64 + MAX_FRAME,
  REP_SUM: 68 + MAX_FRAME,
  /** The reply frame. */
  REP: 72 + MAX_FRAME,
} as const;

/**
 * The checksum of a slot record: 32-bit FNV-1a over the frame's bytes,
 * seeded with the offset basis XOR `seq` (the shim computes the same).
 */
export function slotSum(seq: number, frame: Uint8Array): number {
  let h = (0x811c9dc5 ^ seq) >>> 0;
  for (let i = 0; i < frame.length; i++) h = Math.imul(h ^ frame[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * How long the daemon keeps polling after the last request it served (ms):
 * back-to-back ioctls stay on the fast path. The window adapts between
 * these bounds: it doubles when a request arrived while polling and halves
 * when it passed in vain — a program sharing a CPU with the daemon (a
 * loaded machine) cannot make its next request while the daemon spins, so
 * there polling shrinks to almost nothing and requests come by WAKE.
 */
export const POLL_WINDOW_MAX_MS = 0.2;
/** The smallest polling window (ms); see POLL_WINDOW_MAX_MS. */
export const POLL_WINDOW_MIN_MS = 0.01;
/** The longest the daemon polls without letting the event loop run (ms): socket clients are not starved. */
export const POLL_SLICE_MS = 4;
/**
 * CPU pressure (% "some avg10" of /proc/pressure/cpu) from which the shims
 * are told to use the socket. A program and the daemon spinning on an
 * otherwise idle 2-CPU machine already read 10–20 % (any third task that
 * wakes waits), so the thresholds sit well above that.
 */
export const ROUTE_SOCKET_PSI = 70;
/**
 * CPU pressure (%) below which shims routed to the socket are sent back to
 * their slots (hysteresis). At 10 % a shim, once routed away, never came
 * back on a quiet machine (measured 11–15 % there).
 */
export const ROUTE_SLOT_PSI = 40;
/** How often the poller reads /proc/pressure/cpu (ms). */
export const PRESSURE_PERIOD_MS = 200;

/**
 * The kernel's CPU pressure: "some avg10" of /proc/pressure/cpu (Linux
 * kernel/sched/psi.c; %, the share of the last ~10 s in which some
 * runnable task waited for a CPU), or undefined without PSI.
 */
export function cpuPressure(): number | undefined {
  try {
    const m = /^some avg10=([0-9.]+)/m.exec(readFileSync("/proc/pressure/cpu", "latin1"));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Bytes read by each poll: the header and the start of the request frame (most requests fit). */
const FIRST_READ = 512;

/**
 * A full memory fence for the daemon's thread (StoreLoad: the flag this
 * side wrote is visible before it reads the other side's). An atomic
 * read-modify-write on shared memory is a locked instruction on x86 and a
 * full barrier in V8's code on arm64.
 */
const fenceCell = new Int32Array(new SharedArrayBuffer(4));
function fence(): void {
  Atomics.add(fenceCell, 0, 0);
}

const O_ACCMODE = 3;
const O_RDWR = 2;

/** The access mode (O_RDONLY/O_WRONLY/O_RDWR) of fd `fd` of process `pid`, from /proc/<pid>/fdinfo; undefined if unknown. */
function accessMode(pid: number, fd: number): number | undefined {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1"));
    return m === null ? undefined : Number.parseInt(m[1]!, 8) & O_ACCMODE;
  } catch {
    return undefined;
  }
}

/**
 * Open the slot of process `pid`: its fd `fd`, reopened through
 * /proc/<pid>/fd (which needs the same ptrace rights as /proc/<pid>/mem).
 * Only a memfd (a "/memfd:" link, no name in any directory) of exactly
 * SLOT.SIZE bytes that the program holds open read-write is accepted, so a
 * client cannot make the daemon write into any other file it can name.
 * @returns the daemon's fd, or EBADF (no such fd), EINVAL (not a memfd of
 *   SLOT.SIZE bytes open read-write, or replaced while being opened).
 */
export function openSlot(pid: number, fd: number): number | Errno {
  const path = `/proc/${pid}/fd/${fd}`;
  let target: string;
  let before: ReturnType<typeof statSync>;
  try {
    target = readlinkSync(path);
    before = statSync(path);
  } catch {
    return errno("EBADF", `fd ${fd} of process ${pid} is not open`);
  }
  if (!target.startsWith("/memfd:") || !before.isFile() || before.nlink !== 0 || before.size !== SLOT.SIZE) {
    return errno("EINVAL", `fd ${fd} is not a memfd of ${SLOT.SIZE} bytes`);
  }
  // The program must itself be able to write the file (fs/proc/fd.c seq_show "flags:", octal, O_RDWR = 2):
  // the daemon never writes where the program could not (a read-only memfd another process shares with it).
  if (accessMode(pid, fd) !== O_RDWR) return errno("EINVAL", `fd ${fd} is not open read-write`);
  let own: number;
  try {
    own = openSync(path, "r+");
  } catch {
    return errno("EBADF", `cannot open fd ${fd} of process ${pid}`);
  }
  // The fd may have been replaced between the checks and the open: it must still be the same file.
  const after = fstatSync(own);
  if (after.dev !== before.dev || after.ino !== before.ino) {
    closeSync(own);
    return errno("EINVAL", `fd ${fd} changed while being opened`);
  }
  return own;
}

/** What a channel needs of its connection. */
export interface ChannelPeer {
  /** Answer one request frame (Session.handle). */
  handle(frame: Frame): Reply;
  /** Send `bytes` on the connection's socket (a WAKE | REPLY). */
  send(bytes: Uint8Array): void;
  /** The slot is unusable or the session asked to close: end the connection. */
  close(): void;
}

/** The WAKE | REPLY frame: the reply is in the slot. */
const WAKE_REPLY = encodeFrame(MSG.WAKE | REPLY, 0, new Uint8Array(0));

/** One process's slot, served by the daemon. */
export class ShmChannel {
  private lastSeq = 0;
  private closed = false;
  /** A reply was stored and the shim's `sleeping` has not been looked at since. */
  private wakeOwed = false;
  /** The header and request as read: SLOT.REQ + MAX_FRAME bytes. */
  private readonly buf = new Uint8Array(SLOT.REQ + MAX_FRAME);
  private readonly view = new DataView(this.buf.buffer);
  /** The reply record: rep_seq, rep_sum, frame. */
  private out = new Uint8Array(8 + 64);
  private readonly word = new Uint8Array(4);
  private readonly wordView = new DataView(this.word.buffer);

  constructor(
    private readonly fd: number,
    private readonly peer: ChannelPeer,
  ) {}

  /** Whether the channel is gone (closed, or failed and closed its connection). */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Serve the request waiting in the slot, if any.
   * @returns true if a request was served (or the channel failed: nothing more to poll).
   */
  poll(): boolean {
    if (this.closed) return false;
    try {
      let got = readSync(this.fd, this.buf, 0, SLOT.REQ + FIRST_READ, 0);
      if (got < SLOT.REQ + HEADER_SIZE) return this.fail();
      const seq = this.view.getUint32(SLOT.REQ_SEQ, true);
      if (seq === this.lastSeq) {
        // The handshake's daemon side: the reply was stored (and fenced) before this read of `sleeping`.
        if (this.wakeOwed && this.view.getUint32(SLOT.SLEEPING, true) !== 0) {
          this.wakeOwed = false;
          this.peer.send(WAKE_REPLY);
        }
        return false;
      }
      let frame = this.request(got);
      if (frame === undefined) {
        // Torn (the kernel's copy may load out of order): read again; the shim stored req_seq last.
        got = readSync(this.fd, this.buf, 0, SLOT.REQ + FIRST_READ, 0);
        if (got < SLOT.REQ + HEADER_SIZE) return this.fail();
        frame = this.request(got);
        if (frame === undefined) return this.fail();
      }
      this.lastSeq = this.view.getUint32(SLOT.REQ_SEQ, true);
      this.wakeOwed = false;
      const reply = this.peer.handle(frame);
      if (reply.close === true || !("send" in reply)) {
        this.peer.close();
        return true;
      }
      this.store(this.lastSeq, reply.send);
      fence();
      // `sleeping` is read by the next poll (the poller always polls once more before it goes idle).
      this.wakeOwed = true;
      return true;
    } catch {
      return this.fail();
    }
  }

  /** Set or clear `polling` (the shim sends WAKE only while it is clear). */
  setPolling(on: boolean): void {
    this.setWord(SLOT.POLLING, on ? 1 : 0);
  }

  /** Set `route`: true sends the shim's requests to the socket (see the module comment). */
  setRoute(socket: boolean): void {
    this.setWord(SLOT.ROUTE, socket ? 1 : 0);
  }

  private setWord(offset: number, value: number): void {
    if (this.closed) return;
    this.wordView.setUint32(0, value, true);
    try {
      writeSync(this.fd, this.word, 0, 4, offset);
    } catch {
      this.fail();
    }
  }

  /** Release the daemon's fd on the slot. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // nothing to release
    }
  }

  /**
   * The request frame in `buf` (`got` bytes read so far; the rest of a long
   * frame is read now), or undefined when its length is impossible or its
   * sum does not match `req_sum`.
   */
  private request(got: number): Frame | undefined {
    const length = this.view.getUint32(SLOT.REQ, true);
    if (length < HEADER_SIZE || length > MAX_FRAME) return undefined;
    const need = SLOT.REQ + length;
    if (need > got && readSync(this.fd, this.buf, got, need - got, got) !== need - got) return undefined;
    const bytes = this.buf.subarray(SLOT.REQ, need);
    const seq = this.view.getUint32(SLOT.REQ_SEQ, true);
    if (slotSum(seq, bytes) !== this.view.getUint32(SLOT.REQ_SUM, true)) return undefined;
    return {
      type: this.view.getUint16(SLOT.REQ + 4, true),
      flags: this.view.getUint16(SLOT.REQ + 6, true),
      tag: this.view.getUint32(SLOT.REQ + 8, true),
      body: bytes.subarray(HEADER_SIZE),
    };
  }

  /** Store the reply record for `seq`: rep_seq, rep_sum, frame — one pwrite. */
  private store(seq: number, frame: Uint8Array): void {
    if (this.out.length < 8 + frame.length) this.out = new Uint8Array(8 + frame.length);
    const dv = new DataView(this.out.buffer);
    dv.setUint32(0, seq, true);
    dv.setUint32(4, slotSum(seq, frame), true);
    this.out.set(frame, 8);
    writeSync(this.fd, this.out, 0, 8 + frame.length, SLOT.REP_SEQ);
  }

  private fail(): true {
    this.close();
    this.peer.close();
    return true;
  }
}

/**
 * The daemon's polling of every attached slot. `kick()` (after a WAKE, or
 * an attach) polls synchronously until no slot had a request for the
 * current window (POLL_WINDOW_MIN_MS…POLL_WINDOW_MAX_MS), in slices of at most POLL_SLICE_MS between which the
 * event loop runs; then it clears every `polling` flag, fences, and looks
 * once more (the handshake in the module comment).
 */
export class ShmPoller {
  private readonly channels = new Set<ShmChannel>();
  private spinning = false;
  private resumeScheduled = false;
  private window = POLL_WINDOW_MAX_MS;
  /** Whether the shims are told to use the socket (CPU pressure), and when pressure was last read. */
  private routeSocket = false;
  private pressureAt = Number.NEGATIVE_INFINITY;
  /**
   * Counters (diagnostics): requests served, of which found while polling
   * after another (no WAKE needed); polling windows that passed in vain;
   * WAKE frames received; WAKE | REPLY frames sent to sleeping shims
   * (the server counts the last two).
   */
  readonly stats = { served: 0, polled: 0, idle: 0, wakes: 0, woke: 0 };

  /**
   * `pressure` reads the CPU pressure (default: cpuPressure(), from
   * /proc/pressure/cpu); tests pass their own.
   */
  constructor(
    private readonly pressure: () => number | undefined = cpuPressure,
    private readonly pressurePeriodMs: number = PRESSURE_PERIOD_MS,
  ) {}

  /** Poll `channel` from now on (its `polling` flag is set while the poller spins). */
  add(channel: ShmChannel): void {
    this.pressureAt = Number.NEGATIVE_INFINITY; // a fresh reading for the new slot
    this.route(performance.now());
    this.channels.add(channel);
    channel.setRoute(this.routeSocket);
  }

  /** Whether the shims are told to use the socket right now. */
  get routedToSocket(): boolean {
    return this.routeSocket;
  }

  /** Re-read the CPU pressure if it is due (a request came on the socket from a process with a slot). */
  refreshRoute(): void {
    if (this.channels.size > 0) this.route(performance.now());
  }

  /** Read the CPU pressure (at most every PRESSURE_PERIOD_MS) and re-route the shims when it crosses a threshold. */
  private route(now: number): void {
    if (now - this.pressureAt < this.pressurePeriodMs) return;
    this.pressureAt = now;
    const p = this.pressure();
    const socket = p === undefined ? false : this.routeSocket ? p > ROUTE_SLOT_PSI : p >= ROUTE_SOCKET_PSI;
    if (socket === this.routeSocket) return;
    this.routeSocket = socket;
    for (const c of this.channels) c.setRoute(socket);
  }

  /** Stop polling `channel` (its connection ended). */
  remove(channel: ShmChannel): void {
    this.channels.delete(channel);
  }

  /** Slots polled right now (tests). */
  get size(): number {
    return this.channels.size;
  }

  /** A request may be waiting: poll until the slots go quiet. */
  kick(): void {
    if (this.spinning || this.resumeScheduled) return;
    this.spin();
  }

  private spin(): void {
    this.spinning = true;
    try {
      this.route(performance.now());
      for (const c of this.channels) c.setPolling(true);
      const sliceEnd = performance.now() + POLL_SLICE_MS;
      let quietSince = performance.now();
      let served = 0;
      for (;;) {
        const now = performance.now();
        const n = this.pollAll();
        if (n > 0) {
          if (served > 0) this.window = Math.min(this.window * 2, POLL_WINDOW_MAX_MS);
          this.stats.served += n;
          if (served > 0) this.stats.polled += n;
          served += n;
          quietSince = performance.now();
        } else if (now - quietSince >= this.window) {
          this.stats.idle++;
          this.window = Math.max(this.window / 2, POLL_WINDOW_MIN_MS);
          const late = this.settle();
          if (late > 0) {
            this.stats.served += late;
            served += late;
            quietSince = performance.now();
            continue;
          }
          return;
        }
        if (now >= sliceEnd) {
          // Let socket clients in; the flags stay set, so shims keep writing without WAKE.
          this.resumeScheduled = true;
          setImmediate(() => {
            this.resumeScheduled = false;
            this.kick();
          });
          return;
        }
      }
    } finally {
      this.spinning = false;
    }
  }

  /** Poll each slot once; the number of requests served. */
  private pollAll(): number {
    let served = 0;
    for (const c of this.channels) {
      if (c.isClosed) this.channels.delete(c);
      else if (c.poll()) served++;
    }
    return served;
  }

  /**
   * Going quiet: clear every `polling` flag, fence, and look once more.
   * @returns the requests that arrived meanwhile (then the flags are set again and polling goes on).
   */
  private settle(): number {
    for (const c of this.channels) c.setPolling(false);
    fence();
    const late = this.pollAll();
    if (late > 0) for (const c of this.channels) c.setPolling(true);
    return late;
  }
}
