/**
 * The model daemon: a UNIX-socket server (node:net) speaking protocol.ts to
 * preload shims, one session per connection, all sharing one file table
 * and one set of device drivers over one model.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { UsageError } from "../errors";
import type { DeviceDriver } from "./driver";
import { DriverRegistry } from "./driver";
import { FileTable } from "./files";
import { encodeResult, type Frame, FrameDecoder, MSG } from "./protocol";
import { type Reply, Session, type SessionShared } from "./session";
import { cpuPressure, ShmPoller } from "./shm";
import { SLOT } from "./slot";
import { ShmChannel } from "./slot-channel";
import { slotIo } from "./slot-io";
import { schedYield } from "./slot-map";
import { openSlot } from "./slot-open";

/** Options of `startDaemon`. */
export interface DaemonOptions {
  /** Path of the UNIX socket to listen on (created with mode 0600; an existing socket file is replaced). */
  readonly socketPath: string;
  /** The device drivers to serve (see createModel). */
  readonly drivers: readonly DeviceDriver[];
  /** Called for an exception inside a driver or the model (a bug); default: print to stderr. */
  readonly onInternalError?: (error: unknown) => void;
  /**
   * Called when the last connection of process `pid` has ended and the
   * files it held were let go (a model's `processExited`: the mirror of its
   * memory goes away).
   */
  readonly onProcessExit?: (pid: number) => void;
  /** Called when process `pid` unmaps [addr, addr + length) of its memory (a model's `processUnmapped`). */
  readonly onProcessUnmap?: (pid: number, addr: bigint, length: bigint) => void;
  /**
   * The CPU pressure (% "some avg10") that decides whether shims use their
   * shared slot or the socket (shm.ts); default: /proc/pressure/cpu, or
   * none with `IOMMU_SIM_TRANSPORT=slot` in the environment (the slot
   * always).
   */
  readonly cpuPressure?: () => number | undefined;
  /** How often (ms) the CPU pressure is re-read at most (default PRESSURE_PERIOD_MS, 200); tests pass 0. */
  readonly pressurePeriodMs?: number;
  /**
   * Whether slots are mapped into the daemon when the addon is available
   * (slot-map.ts; default true); false reads and writes every slot with
   * pread/pwrite (tests and benchmarks of the fallback).
   */
  readonly slotMap?: boolean;
  /**
   * Whether the poller yields its CPU between looks once a window has been
   * quiet for POLL_YIELD_AFTER_MS (shm.ts; default true, when the addon
   * loads); false spins without yielding (tests of what the yield is for).
   */
  readonly pollYield?: boolean;
}

/** A running daemon. */
export interface Daemon {
  readonly socketPath: string;
  /** Open files right now (diagnostics and tests). */
  readonly files: FileTable;
  /** Live connections. */
  connections(): number;
  /**
   * The shared-slot transport (shm.ts): slots attached now, and counters —
   * slots attached and mapped, requests served through slots, those found while polling (no WAKE
   * needed: the fast path), polling windows that passed in vain, WAKE
   * frames received, WAKE | REPLY frames sent to sleeping shims.
   */
  slots(): {
    readonly attached: number;
    /** Slots attached since the daemon started, and of them those mapped into the daemon (slot-map.ts). */
    readonly attaches: number;
    readonly mapped: number;
    readonly served: number;
    readonly polled: number;
    readonly idle: number;
    readonly wakes: number;
    readonly woke: number;
  };
  /** Stop listening, drop every connection (releasing its files) and remove the socket. */
  close(): Promise<void>;
}

/** Linux errno values answered by SHM_ATTACH and WAKE (asm-generic/errno-base.h, errno.h). */
const ENXIO = -6;
const EBUSY = -16;
const EINVAL = -22;
const EPROTO = -71;

/** A live connection: how to end its session, and the pid it speaks for (after HELLO). */
interface LiveConnection {
  readonly end: () => void;
  readonly pid: () => number | undefined;
}

/** Whether process `pid` exists (a zombie does: kill(pid, 0) succeeds until it is reaped). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * End the connections of processes that are gone, other than `caller`'s.
 * A request through a slot is served while the daemon polls, before the
 * event loop has seen other connections close; a program that waited for
 * its child (waitpid) must find the child's files let go, as Linux closes
 * them at exit (the selftest's fork_present closes its iommufd after
 * waitpid and expects no pinned page left). A reaped child no longer
 * exists; an unreaped zombie is left to the event loop.
 */
function reapGone(live: Map<Socket, LiveConnection>, caller: number): void {
  if (live.size < 2) return;
  for (const [socket, c] of [...live]) {
    const pid = c.pid();
    if (pid === undefined || pid === caller || exists(pid)) continue;
    socket.destroy();
    c.end();
  }
}

/** Serve `socket` until it closes. */
function serveConnection(
  socket: Socket,
  shared: SessionShared,
  live: Map<Socket, LiveConnection>,
  poller: ShmPoller,
  slotMap: boolean,
): void {
  const session = new Session(shared);
  const decoder = new FrameDecoder();
  let channel: ShmChannel | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    live.delete(socket);
    if (channel !== undefined) {
      poller.remove(channel);
      channel.close();
    }
    session.end();
  };
  /**
   * SHM_ATTACH: serve this process's requests through its memfd slot
   * (shm.ts) from now on. One slot per connection (a forked child attaches its own).
   */
  const attach = (frame: Frame): Reply => {
    const result = (v: number) => ({ send: encodeResult(frame.type, frame.tag, v) });
    const pid = session.pid;
    if (pid === undefined) return { close: true };
    if (frame.body.length < 8) return result(EPROTO);
    if (channel !== undefined) return result(EBUSY);
    const dv = new DataView(frame.body.buffer, frame.body.byteOffset, 8);
    if (dv.getUint32(4, true) !== SLOT.SIZE) return result(EINVAL);
    const fd = openSlot(pid, dv.getUint32(0, true));
    if (typeof fd !== "number") return result(fd.ret);
    channel = new ShmChannel(slotIo(fd, slotMap), {
      handle: (f) => {
        reapGone(live, pid);
        return session.handle(f);
      },
      send: (bytes) => {
        poller.stats.woke++;
        if (!ended) socket.write(bytes);
      },
      close: () => {
        socket.destroy();
        end();
      },
    });
    poller.add(channel);
    return result(0);
  };
  live.set(socket, { end, pid: () => session.pid });
  socket.setNoDelay(true);
  /** Handle every complete frame in the decoder; false when the connection is done (or must wait for drain). */
  const drainFrames = (): boolean => {
    for (;;) {
      if (ended) return false;
      const frame = decoder.next();
      if (frame === undefined) {
        // A client that sends without reading its replies is not read from
        // until they drain, so its replies cannot pile up in memory.
        if (socket.writableNeedDrain) {
          socket.pause();
          socket.once("drain", () => socket.resume());
          return false;
        }
        return true;
      }
      if ("error" in frame) {
        socket.destroy();
        end();
        return false;
      }
      if (frame.type === MSG.WAKE && session.pid !== undefined) {
        // No reply: the request is in the slot (protocol.md, "Shared slot").
        if (channel !== undefined) {
          poller.stats.wakes++;
          poller.kick();
          continue;
        }
        socket.write(encodeResult(frame.type, frame.tag, ENXIO));
        continue;
      }
      // A process with a slot sends here while the poller routes it to the socket: the pressure may have eased.
      if (channel !== undefined) poller.refreshRoute();
      const reply =
        frame.type === MSG.SHM_ATTACH && session.pid !== undefined ? attach(frame) : session.handle(frame);
      if ("send" in reply) socket.write(reply.send);
      if (channel !== undefined && frame.type === MSG.SHM_ATTACH) setImmediate(() => poller.kick());
      if (reply.close === true) {
        socket.end();
        end();
        return false;
      }
    }
  };
  socket.on("data", (chunk: Buffer) => {
    if (ended) return;
    decoder.push(chunk);
    drainFrames();
  });
  socket.on("error", () => end());
  socket.on("close", () => end());
}

/**
 * Start a daemon listening on `socketPath`.
 * @throws UsageError when the socket cannot be created, or the path names
 *   something other than a stale socket (the message names the path).
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const files = new FileTable();
  const shared: SessionShared = {
    registry: new DriverRegistry(options.drivers),
    files,
    forks: new Map(),
    connections: new Map(),
    onProcessExit: options.onProcessExit ?? (() => {}),
    onProcessUnmap: options.onProcessUnmap ?? (() => {}),
    onInternalError:
      options.onInternalError ??
      ((e) =>
        process.stderr.write(`iommu-sim daemon: internal error: ${(e as Error)?.stack ?? String(e)}\n`)),
  };
  /** Live connections and how to end each one's session. */
  const live = new Map<Socket, LiveConnection>();
  const poller = new ShmPoller(
    options.cpuPressure ?? (process.env.IOMMU_SIM_TRANSPORT === "slot" ? () => 0 : cpuPressure),
    options.pressurePeriodMs,
    options.pollYield === false ? undefined : schedYield(),
  );
  const server: Server = createServer((s) =>
    serveConnection(s, shared, live, poller, options.slotMap ?? true),
  );
  if (existsSync(options.socketPath)) {
    // Replace a stale socket, never anything else the path may name.
    if (!lstatSync(options.socketPath).isSocket()) {
      throw new UsageError(`${options.socketPath}: exists and is not a socket`);
    }
    unlinkSync(options.socketPath);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new UsageError(`${options.socketPath}: cannot listen: ${e.message}`)));
    server.listen(options.socketPath, () => resolve());
  });
  chmodSync(options.socketPath, 0o600);
  return {
    socketPath: options.socketPath,
    files,
    connections: () => live.size,
    slots: () => ({ attached: poller.size, ...poller.stats }),
    close: () =>
      new Promise<void>((resolve) => {
        // End every session now, so the files it held are released (and
        // their close commands committed) before close() resolves.
        for (const [s, c] of [...live]) {
          c.end();
          s.destroy();
        }
        server.close(() => {
          if (existsSync(options.socketPath)) unlinkSync(options.socketPath);
          resolve();
        });
      }),
  };
}
