/**
 * Shared by the benchmarks of iommufd's queue files (fault.bench.ts,
 * veventq.bench.ts): the world they build and the check of its setup.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdFile, SystemState } from "../src/index";

/** A system log, the benchmark's context, its queue file and the mock device's object id. */
export interface FileWorld {
  log: EventLog<Message, Message, SystemState>;
  ctx: number;
  file: IommufdFile;
  idev: number;
}

/** `r`, unless it is an Errno or a negative return value: a setup step failed (the benchmark cannot run). */
export function ok<T>(r: T): T {
  if (isErrno(r) || (typeof r === "number" && r < 0)) throw new Error(`setup failed: ${String(r)}`);
  return r;
}
