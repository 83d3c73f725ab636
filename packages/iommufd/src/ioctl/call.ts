/**
 * One decoded ioctl call as a handler sees it, and the helpers handlers use
 * to answer (Linux struct iommufd_ucmd, iommufd_ucmd_respond()).
 */
import { copyToUser, type Errno, type IommufdIoctlOp } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import type { IoctlEnv } from "./env";

/** One decoded call, as a handler sees it. */
export interface IoctlCall<R extends IommufdRoot> {
  readonly env: IoctlEnv<R>;
  readonly ctx: number;
  readonly op: IommufdIoctlOp;
  /** The kernel-side struct (zero-extended). */
  readonly value: Record<string, unknown>;
  /** The size the caller declared. */
  readonly userSize: number;
  /** The caller's buffer; `respond` writes into it. */
  readonly arg: Uint8Array;
}

/**
 * The calling process's pid (Linux `current->tgid`): `env.pid` when the
 * environment knows it, else the pid that opened context `call.ctx`.
 */
export function callerPid<R extends IommufdRoot>(call: IoctlCall<R>): number {
  return call.env.pid ?? call.env.peek().iommufd.contexts[call.ctx]!.pid;
}

/** Copy an updated struct back to the caller (min(user size, kernel size) bytes). */
export function respond<R extends IommufdRoot>(call: IoctlCall<R>, value: Record<string, unknown>): void {
  const layout = call.op.layout as unknown as {
    readonly size: number;
    encodeInto(v: Record<string, unknown>, target: Uint8Array, offset: number): void;
  };
  // The caller's struct holds the whole kernel struct (the usual case): encode straight into it,
  // without a temporary buffer. `value` has every member (a decoded struct), so the bytes are
  // the same as copyToUser's.
  if (call.userSize >= layout.size && call.arg.length >= layout.size) {
    layout.encodeInto(value, call.arg, 0);
    return;
  }
  call.arg.set(
    copyToUser(call.op.layout as never, value as never, call.userSize).subarray(0, call.arg.length),
  );
}

/** −errno of an Errno, or 0. */
export function ret(e: Errno | undefined): number {
  return e === undefined ? 0 : e.ret;
}

/**
 * Write a little-endian u32 output field at byte `offset` of the caller's
 * struct — only where the response rule copies back (below
 * min(user size, kernel size)). For outputs inside unions, where
 * re-encoding the whole struct could let another member win.
 */
export function respondU32<R extends IommufdRoot>(call: IoctlCall<R>, offset: number, value: number): void {
  if (offset + 4 > Math.min(call.userSize, call.op.size, call.arg.length)) return;
  new DataView(call.arg.buffer, call.arg.byteOffset, call.arg.byteLength).setUint32(offset, value, true);
}
