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
import { FrameDecoder } from "./protocol";
import { Session, type SessionShared } from "./session";

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
}

/** A running daemon. */
export interface Daemon {
  readonly socketPath: string;
  /** Open files right now (diagnostics and tests). */
  readonly files: FileTable;
  /** Live connections. */
  connections(): number;
  /** Stop listening, drop every connection (releasing its files) and remove the socket. */
  close(): Promise<void>;
}

/** Serve `socket` until it closes. */
function serveConnection(socket: Socket, shared: SessionShared, live: Map<Socket, () => void>): void {
  const session = new Session(shared);
  const decoder = new FrameDecoder();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    live.delete(socket);
    session.end();
  };
  live.set(socket, end);
  socket.setNoDelay(true);
  /** Handle every complete frame in the decoder; false when the connection is done (or must wait for drain). */
  const drainFrames = (): boolean => {
    for (;;) {
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
      const reply = session.handle(frame);
      if ("send" in reply) socket.write(reply.send);
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
  const live = new Map<Socket, () => void>();
  const server: Server = createServer((s) => serveConnection(s, shared, live));
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
    close: () =>
      new Promise<void>((resolve) => {
        // End every session now, so the files it held are released (and
        // their close commands committed) before close() resolves.
        for (const [s, end] of [...live]) {
          end();
          s.destroy();
        }
        server.close(() => {
          if (existsSync(options.socketPath)) unlinkSync(options.socketPath);
          resolve();
        });
      }),
  };
}
