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

/** Copy an updated struct back to the caller (min(user size, kernel size) bytes). */
export function respond<R extends IommufdRoot>(call: IoctlCall<R>, value: Record<string, unknown>): void {
  call.arg.set(
    copyToUser(call.op.layout as never, value as never, call.userSize).subarray(0, call.arg.length),
  );
}

/** −errno of an Errno, or 0. */
export function ret(e: Errno | undefined): number {
  return e === undefined ? 0 : e.ret;
}
