/**
 * Process lifecycle as it touches PASIDs: fork() (the child gets a new mm,
 * the parent's fds and quota group) and exit (its fds are closed, its mm's
 * SVA bonds and IOASID set go — "a set frees all its ids when its owner goes").
 */
import type { Message } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand, type IoasidEvent } from "@iommu-sim/uapi";
import { releaseFile } from "./devioasid";
import { freeSetIds, freeSvaPasid } from "./sets";
import { type IoasidState, mmOf } from "./state";
import { unbindEvents } from "./sva";
import type { SvaHooks } from "./sva-hooks";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];
type Decision = readonly (IoasidEvent | Message)[] | Errno;

function knownProcess(state: IoasidState, pid: number): boolean {
  if (state.membership[pid] !== undefined || state.sets[mmOf(pid)] !== undefined) return true;
  for (const key in state.files) if (state.files[key]!.holders.includes(pid)) return true;
  return false;
}

/**
 * fork(): EEXIST when `child` is already a known process.
 * Events: ioasid.process.forked (evolve gives the child the parent's fds
 * and quota group; the child's mm is new, so it may open /dev/ioasid itself).
 */
export function decideFork(state: IoasidState, c: Cmd<"ioasid.process.fork">): Decision {
  if (c.child === c.parent || knownProcess(state, c.child)) return errno("EEXIST", `pid ${c.child} exists`);
  return [{ type: "ioasid.process.forked", data: { parent: c.parent, child: c.child } }];
}

/**
 * Process exit (do_exit → exit_files, then the mm goes). Never fails.
 * Events, in order: for each fd the process holds (ascending), one
 * ioasid.fd.closed per hold and, for its last holder, the release (for the
 * process's own file without frees: its set goes next); then, if its mm has
 * a set: for each bond (ascending) the SVA hooks' teardown and sva.unbound, its /dev/ioasid PASIDs and
 * SVA PASID freed and uncharged, ioasid.set.freed; finally ioasid.process.exited.
 */
export function decideExit<R>(
  state: IoasidState,
  c: Cmd<"ioasid.process.exit">,
  root?: R,
  hooks?: SvaHooks<R>,
): Decision {
  const mm = mmOf(c.pid);
  const out: (IoasidEvent | Message)[] = [];
  const fds = Object.keys(state.files)
    .map(Number)
    .sort((a, b) => a - b);
  for (const fd of fds) {
    const file = state.files[fd]!;
    const n = file.holders.filter((p) => p === c.pid).length;
    for (let i = 0; i < n; i++) out.push({ type: "ioasid.fd.closed", data: { fd, pid: c.pid } });
    if (n === 0 || n < file.holders.length) continue;
    if (file.mm === mm) out.push({ type: "ioasid.released", data: { fd, mm } });
    else out.push(...releaseFile(state, file));
  }
  const set = state.sets[mm];
  if (set !== undefined) {
    const bonds = Object.values(state.bonds)
      .filter((b) => b.mm === mm)
      .sort((a, b) => a.bond - b.bond);
    for (const b of bonds)
      out.push(...unbindEvents(state, root as R, b, hooks), {
        type: "sva.unbound",
        data: { bond: b.bond, rid: b.rid, mm, pasid: b.pasid },
      });
    out.push(...freeSetIds(set), ...freeSvaPasid(set), { type: "ioasid.set.freed", data: { mm } });
  }
  out.push({ type: "ioasid.process.exited", data: { pid: c.pid } });
  return out;
}
