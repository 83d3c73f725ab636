/**
 * Commands on quota groups, as the virt manager drives misc cgroup files:
 * mkdir + misc.max, writing misc.max, writing cgroup.procs.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand, type IoasidEvent } from "@iommu-sim/uapi";
import type { IoasidState } from "./state";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];
type Decision = readonly IoasidEvent[] | Errno;

/**
 * mkdir of a group under `parent` with misc.max = `max` (absent: "max").
 * Errors: EEXIST (id taken), ENOENT (no such parent), ENOMEM (injected).
 * Events: ioasid.cgroup.created.
 */
export function decideCgroupCreate(
  state: IoasidState,
  c: Cmd<"ioasid.cgroup.create">,
  ctx: SubsystemDecideContext<unknown>,
): Decision {
  if (state.cgroups[c.cgroup] !== undefined) return errno("EEXIST", `cgroup ${c.cgroup} exists`);
  if (state.cgroups[c.parent] === undefined) return errno("ENOENT", `no parent cgroup ${c.parent}`);
  const e = ctx.step("ioasid.cgroup.alloc");
  if (e) return e;
  const data = c.max === undefined ? { cgroup: c.cgroup, parent: c.parent } : { ...c };
  return [{ type: "ioasid.cgroup.created", data }];
}

/**
 * Write misc.max. A max below the current usage is accepted (misc_cg_max_write()
 * does not reclaim); only later charges fail. The root has no max: EINVAL.
 * Errors: ENOENT (no such group), EINVAL (the root).
 * Events: ioasid.cgroup.maxSet.
 */
export function decideCgroupSetMax(state: IoasidState, c: Cmd<"ioasid.cgroup.setMax">): Decision {
  const g = state.cgroups[c.cgroup];
  if (g === undefined) return errno("ENOENT", `no cgroup ${c.cgroup}`);
  if (g.parent === undefined) return errno("EINVAL", "the root cgroup has no misc.max");
  return [{ type: "ioasid.cgroup.maxSet", data: c.max === undefined ? { cgroup: c.cgroup } : { ...c } }];
}

/**
 * Move `pid` into a group (write to cgroup.procs). Charges already made stay
 * with the group they were made in (misc cgroup does not migrate charges).
 * Errors: ENOENT (no such group). Events: ioasid.cgroup.attached.
 */
export function decideCgroupAttach(state: IoasidState, c: Cmd<"ioasid.cgroup.attach">): Decision {
  if (state.cgroups[c.cgroup] === undefined) return errno("ENOENT", `no cgroup ${c.cgroup}`);
  return [{ type: "ioasid.cgroup.attached", data: { pid: c.pid, cgroup: c.cgroup } }];
}
