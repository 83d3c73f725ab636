/**
 * The user memory of a simulated process (iopt's `mm`), for callers that
 * drive the model in-process: reads come from the current state, writes
 * are `mm.write` commands through the log (so they are logged and replay).
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import { readUser } from "@iommu-sim/iopt";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import type { UserMemory } from "./env";

/** What `processMemory` needs: a log's `dispatch` and `peek`. */
export interface LogAccess {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): IommufdRoot;
}

/** The `UserMemory` of simulated process `pid`. Unmapped or read-only → EFAULT. */
export function processMemory(log: LogAccess, pid: number): UserMemory {
  return {
    read: (va, length) => readUser(log.peek().mm, pid, va, length),
    write: (va, bytes) => {
      const r = log.dispatch({ type: "mm.write", data: { pid, va, bytes } });
      return isErrno(r) ? errno("EFAULT", r.reason ?? r.name) : undefined;
    },
  };
}
