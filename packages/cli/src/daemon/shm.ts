/**
 * The shared-memory transport (protocol.md, "Shared slot"): a program's
 * requests reach the daemon through a small memfd that the shim maps
 * MAP_SHARED, without a socket round trip through the event loop. The
 * daemon maps it too when it can (slot-map.ts: a Node-API addon built from
 * source, for a memfd sealed against shrinking), else reads and writes it
 * with pread/pwrite (slot-io.ts). Files: slot.ts (layout, checksum),
 * slot-open.ts (SHM_ATTACH's checks), slot-io.ts, slot-channel.ts (one
 * slot's requests and replies), this file (polling every slot, routing).
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
 * |   8264 | `rep_time` | daemon     | CLOCK_MONOTONIC µs (mod 2^32) at the reply: how long the daemon took, for the shim's spin budget |
 * |   8268 | reply      | daemon     | one frame                                                |
 *
 * A poll is one load of `req_seq` (mapped) or one pread of the header and
 * request; the request is copied out of the slot before it is checked.
 * A reply is stored frame first and `rep_seq` last (mapped), or with one
 * pwrite. A copy the kernel makes with a string instruction may store (and
 * load) its bytes out of order, so a record is accepted only when its
 * checksum matches: the daemon re-reads a request whose sum does not match
 * once (the shim stored `req_seq` last, so a second read sees it whole)
 * and ends the connection if it still does not; the shim spins until the
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
 * does. A slot is mapped only once it can no longer shrink (F_SEAL_SHRINK),
 * so no program can make the daemon touch a page past the file's end.
 */
import { readFileSync } from "node:fs";
import { fence } from "./slot";
import type { ShmChannel } from "./slot-channel";

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
/**
 * Past this long without a request (ms), the poller yields its CPU between
 * looks (sched_yield through the addon, slot-map.ts): a program the
 * scheduler put on the daemon's CPU — the kernel wakes the daemon on the
 * CPU of the program that sent WAKE — can then make its request while the
 * daemon polls, where otherwise it waits for the window to pass in vain.
 */
export const POLL_YIELD_AFTER_MS = 0.005;
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
   * Counters (diagnostics): slots attached, of which mapped into the daemon
   * (the rest use pread/pwrite); requests served, of which found while
   * polling after another (no WAKE needed); polling windows that passed in
   * vain; WAKE frames received; WAKE | REPLY frames sent to sleeping shims
   * (the server counts the last two).
   */
  readonly stats = { attaches: 0, mapped: 0, served: 0, polled: 0, idle: 0, wakes: 0, woke: 0 };

  /**
   * `pressure` reads the CPU pressure (default: cpuPressure(), from
   * /proc/pressure/cpu); tests pass their own. `yieldCpu`: sched_yield
   * (the server passes the addon's, slot-map.ts schedYield).
   */
  constructor(
    private readonly pressure: () => number | undefined = cpuPressure,
    private readonly pressurePeriodMs: number = PRESSURE_PERIOD_MS,
    /** sched_yield (POLL_YIELD_AFTER_MS), or undefined to spin without yielding. */
    private readonly yieldCpu?: () => void,
  ) {}

  /** Poll `channel` from now on (its `polling` flag is set while the poller spins). */
  add(channel: ShmChannel): void {
    this.pressureAt = Number.NEGATIVE_INFINITY; // a fresh reading for the new slot
    this.route(performance.now());
    this.channels.add(channel);
    this.stats.attaches++;
    if (channel.kind === "mapped") this.stats.mapped++;
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
        } else if (now - quietSince > POLL_YIELD_AFTER_MS && now - quietSince < this.window) {
          this.yieldCpu?.();
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
