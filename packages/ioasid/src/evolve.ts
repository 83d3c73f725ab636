/**
 * evolve: apply one `ioasid` event to the slice. Total and cheap: the PASID
 * space is a bulk bitmap written in place within an epoch; the small records
 * are copied (copy-then-assign, which V8 does faster than a spread with an
 * overriding key).
 */
import type { IoasidEvent } from "@iommu-sim/uapi";
import { PasidBitmap } from "./bitmap";
import { dropGroups } from "./iopf";
import { applyCharge } from "./quota";
import { type IoasidSet, type IoasidState, ROOT_CGROUP, update } from "./state";

/** `rec` with `key` set to `value`. */
function put<V>(rec: Readonly<Record<number, V>>, key: number, value: V): Record<number, V> {
  const out = { ...rec };
  out[key] = value;
  return out;
}

/** `rec` without `key`. */
function without<V>(rec: Readonly<Record<number, V>>, key: number): Record<number, V> {
  const out = { ...rec };
  delete out[key];
  return out;
}

/** `list` (ascending) with `x` inserted in order. */
function inserted(list: readonly number[], x: number): number[] {
  const out = [...list, x];
  out.sort((a, b) => a - b);
  return out;
}

/** `list` without one occurrence of `x`. */
function removedOnce(list: readonly number[], x: number): number[] {
  const i = list.indexOf(x);
  return i < 0 ? [...list] : [...list.slice(0, i), ...list.slice(i + 1)];
}

/** The set after `pasid` of `use` was allocated (`alloc`) or freed; the same set when `use` is not a set's. */
function setAfter(set: IoasidSet, pasid: number, use: string, alloc: boolean): IoasidSet {
  if (use === "ioasid") {
    const ids = alloc ? set.ids.set(pasid) : set.ids.clear(pasid);
    return set.svaPasid === undefined
      ? { mm: set.mm, cgroup: set.cgroup, ids }
      : { mm: set.mm, cgroup: set.cgroup, ids, svaPasid: set.svaPasid };
  }
  if (use !== "sva") return set;
  return alloc
    ? { mm: set.mm, cgroup: set.cgroup, ids: set.ids, svaPasid: pasid }
    : { mm: set.mm, cgroup: set.cgroup, ids: set.ids };
}

function evolvePasid(
  state: IoasidState,
  e: Extract<IoasidEvent, { type: "pasid.allocated" | "pasid.freed" }>,
): IoasidState {
  const { pasid, use, mm } = e.data;
  const alloc = e.type === "pasid.allocated";
  const space = alloc ? state.space.set(pasid) : state.space.clear(pasid);
  const set = mm === undefined ? undefined : state.sets[mm];
  if (set === undefined) return update(state, { space });
  const next = setAfter(set, pasid, use, alloc);
  return next === set
    ? update(state, { space })
    : update(state, { space, sets: put(state.sets, set.mm, next) });
}

function evolveFork(state: IoasidState, parent: number, child: number): IoasidState {
  const files: Record<number, IoasidState["files"][number]> = { ...state.files };
  for (const key in files) {
    const f = files[key]!;
    let holders = f.holders;
    for (const p of f.holders) if (p === parent) holders = inserted(holders, child);
    if (holders !== f.holders) files[key] = { ...f, holders };
  }
  const g = state.membership[parent];
  return update(state, {
    files,
    membership: g === undefined ? state.membership : put(state.membership, child, g),
  });
}

/** Apply one event (see the vocabulary in @iommu-sim/uapi vocab/ioasid.ts for each one's meaning). */
export function evolveIoasid(state: IoasidState, e: IoasidEvent): IoasidState {
  switch (e.type) {
    case "ioasid.opened": {
      const { pid, fd, mm } = e.data;
      return update(state, {
        files: put(state.files, fd, { fd, mm, holders: [pid] }),
        users: put(state.users, mm, fd),
        lastFd: fd,
      });
    }
    case "ioasid.fd.shared": {
      const f = state.files[e.data.fd]!;
      return update(state, {
        files: put(state.files, f.fd, { ...f, holders: inserted(f.holders, e.data.pid) }),
      });
    }
    case "ioasid.fd.closed": {
      const f = state.files[e.data.fd]!;
      return update(state, {
        files: put(state.files, f.fd, { ...f, holders: removedOnce(f.holders, e.data.pid) }),
      });
    }
    case "ioasid.released": {
      const { fd, mm } = e.data;
      const users = state.users[mm] === fd ? without(state.users, mm) : state.users;
      return update(state, { files: without(state.files, fd), users });
    }
    case "ioasid.set.allocated": {
      const { mm, cgroup } = e.data;
      const set: IoasidSet = { mm, cgroup, ids: PasidBitmap.empty(state.space.bits) };
      return update(state, { sets: put(state.sets, mm, set) });
    }
    case "ioasid.set.freed":
      // The mm's file, if another process still holds it, is orphaned: it can no longer allocate.
      return update(state, { sets: without(state.sets, e.data.mm), users: without(state.users, e.data.mm) });
    case "pasid.allocated":
    case "pasid.freed":
      return evolvePasid(state, e);
    case "ioasid.quota.charged":
      return update(state, { cgroups: applyCharge(state.cgroups, e.data.cgroup, e.data.count) });
    case "ioasid.quota.uncharged":
      return update(state, { cgroups: applyCharge(state.cgroups, e.data.cgroup, -e.data.count) });
    case "ioasid.cgroup.created": {
      const { cgroup, parent, max } = e.data;
      const g = max === undefined ? { cgroup, parent, usage: 0 } : { cgroup, parent, max, usage: 0 };
      return update(state, { cgroups: put(state.cgroups, cgroup, g) });
    }
    case "ioasid.cgroup.maxSet": {
      const { max: _old, ...g } = state.cgroups[e.data.cgroup]!;
      const next = e.data.max === undefined ? g : { ...g, max: e.data.max };
      return update(state, { cgroups: put(state.cgroups, e.data.cgroup, next) });
    }
    case "ioasid.cgroup.attached": {
      const { pid, cgroup } = e.data;
      const membership =
        cgroup === ROOT_CGROUP ? without(state.membership, pid) : put(state.membership, pid, cgroup);
      return update(state, { membership });
    }
    case "ioasid.process.forked":
      return evolveFork(state, e.data.parent, e.data.child);
    case "ioasid.process.exited":
      return update(state, { membership: without(state.membership, e.data.pid) });
    case "sva.bound": {
      const { bond, rid, mm, pasid } = e.data;
      return update(state, {
        bonds: put(state.bonds, bond, { bond, rid, mm, pasid, refs: 1 }),
        lastBond: bond,
      });
    }
    case "sva.referenced":
    case "sva.unreferenced": {
      const b = state.bonds[e.data.bond]!;
      return update(state, { bonds: put(state.bonds, b.bond, { ...b, refs: e.data.refs }) });
    }
    case "sva.unbound": {
      // The bond's pending fault groups were answered by the unbind (Linux drains them).
      const { rid, pasid } = e.data;
      return dropGroups(
        update(state, { bonds: without(state.bonds, e.data.bond) }),
        (g) => g.rid === rid && g.pasid === pasid,
      );
    }
    case "sva.iopf.handled":
      return dropGroups(state, (g) => g.id === e.data.group);
    case "systemPasid.enabled":
      return update(state, { systemPasids: put(state.systemPasids, e.data.rid, e.data.pasid) });
    case "systemPasid.disabled":
      return update(state, { systemPasids: without(state.systemPasids, e.data.rid) });
    case "systemPasid.directMapEnabled": {
      const rids = inserted(state.directMap?.rids ?? [], e.data.rid);
      return update(state, { directMap: { pasid: e.data.pasid, rids } });
    }
    case "systemPasid.directMapDisabled": {
      const rids = removedOnce(state.directMap?.rids ?? [], e.data.rid);
      return update(state, { directMap: rids.length === 0 ? undefined : { pasid: e.data.pasid, rids } });
    }
    case "systemPasid.policySet":
      return update(state, { allowDirectMap: e.data.allowDirectMap });
  }
}
