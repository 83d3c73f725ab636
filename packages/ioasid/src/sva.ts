/**
 * SVA: binding the calling process's address space to a device, after
 * iommu_sva_bind_device(dev, flags) as seeds/001 leaves it (Jacob Pan,
 * "iommu/sva: Remove mm parameter from SVA bind API" and "Tighten SVA bind
 * API with explicit flags"; Linux v5.13 drivers/iommu/iommu.c,
 * iommu-sva-lib.c, arm-smmu-v3-sva.c):
 *
 * - the mm is always the caller's (no mm parameter);
 * - one PASID per mm (`mm->pasid`), shared by every device bound to it,
 *   allocated on the first bond and freed with the last (v5.13's
 *   iommu_sva_free_pasid(); since v5.18 Linux keeps it until the mm exits);
 * - binding a device already bound to the mm returns the same bond with one
 *   more reference; each unbind drops one.
 */
import type { Message, SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand, type IoasidEvent, isErrno } from "@iommu-sim/uapi";
import type { DeviceLookup, PasidDevice } from "./device";
import { charged, tryCharge } from "./quota";
import { freeSvaPasid } from "./sets";
import { cgroupOf, type IoasidState, mmOf, type SvaBond } from "./state";
import type { SvaHooks } from "./sva-hooks";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];
/** Events of this subsystem and, through the SVA hooks, the drivers' and mm's. */
type Decision = readonly (IoasidEvent | Message)[] | Errno;

/** The highest PASID device `dev` can emit on a platform of `capacity` PASIDs. */
export function devicePasidMax(dev: PasidDevice, capacity: number): number {
  return Math.min(dev.maxPasids ?? capacity, capacity) - 1;
}

/**
 * The device checks of iommu_sva_bind_device() and the drivers' sva_bind,
 * in Linux's order: no device / IOMMU group → ENODEV; not alone in its
 * group → EINVAL; flags ≠ 0 → EINVAL (IOMMU_SVA_BIND_SUPERVISOR is gone:
 * "if (flags) return ERR_PTR(-EINVAL)"); PASID/SVA not enabled → ENODEV
 * (arm_smmu: "!master->sva_enabled").
 */
function checkSvaDevice(dev: PasidDevice | undefined, rid: number, flags: number): PasidDevice | Errno {
  if (dev === undefined) return errno("ENODEV", `device ${rid} has no IOMMU group`);
  if (dev.groupSize !== 1)
    return errno("EINVAL", `device ${rid} shares its IOMMU group with ${dev.groupSize - 1} other(s)`);
  if (flags !== 0) return errno("EINVAL", `flags 0x${flags.toString(16)}: SVA bind takes no flags`);
  if (!dev.pasidEnabled) return errno("ENODEV", `device ${rid} has PASID/SVA disabled`);
  return dev;
}

/** The live bond of device `rid` and `mm`, if any. */
export function findBond(state: IoasidState, rid: number, mm: number): SvaBond | undefined {
  for (const key in state.bonds) {
    const b = state.bonds[key]!;
    if (b.rid === rid && b.mm === mm) return b;
  }
  return undefined;
}

/**
 * sva.bind: bind pid's mm to device `rid`.
 * Errors: see checkSvaDevice; EOVERFLOW when the mm's PASID is beyond what
 * this device can emit; ENOMEM when no PASID can be had — over quota or
 * space full (iommu_sva_alloc_pasid(): INVALID_IOASID → -ENOMEM); ENOMEM
 * (injected) for the bond, the set, or the PASID allocation.
 * With SVA hooks, whatever the driver's bind returns (its errno fails the
 * bind: ENOMEM, ENODEV, EOPNOTSUPP…).
 * Events: an existing bond → sva.referenced {refs}; else [ioasid.set.allocated],
 * [ioasid.quota.charged, pasid.allocated {use: "sva"}], the hooks' hardware
 * events, sva.bound {bond, rid, mm, pasid}.
 */
export function decideBind<R>(
  state: IoasidState,
  c: Cmd<"sva.bind">,
  ctx: SubsystemDecideContext<R>,
  devices: DeviceLookup<R>,
  hooks?: SvaHooks<R>,
): Decision {
  const dev = checkSvaDevice(devices(ctx.root, c.rid), c.rid, c.flags);
  if (isErrno(dev)) return dev;
  const mm = mmOf(c.pid);
  const bond = findBond(state, c.rid, mm);
  if (bond !== undefined) return [{ type: "sva.referenced", data: { bond: bond.bond, refs: bond.refs + 1 } }];

  const set = state.sets[mm];
  const cgroup = set?.cgroup ?? cgroupOf(state, c.pid);
  const max = devicePasidMax(dev, state.space.capacity);
  let pasid = set?.svaPasid;
  if (pasid !== undefined && pasid > max)
    return errno("EOVERFLOW", `mm ${mm}'s PASID ${pasid} is beyond device ${c.rid}'s max ${max}`);
  if (pasid === undefined) {
    const over = tryCharge(state, cgroup, 1);
    if (over) return errno("ENOMEM", `iommu_sva_alloc_pasid: ${over.toString()}`);
    // PASID 0 means "no PASID" in mm->pasid, so SVA starts at 1 (iommu_sva_alloc_pasid: min must be > 0).
    pasid = state.space.lowestClear(1, max);
    if (pasid < 0) return errno("ENOMEM", `iommu_sva_alloc_pasid: no free PASID in [1, ${max}]`);
  }

  const out: (IoasidEvent | Message)[] = [];
  let e = ctx.step("sva.bond.kzalloc");
  if (e) return e;
  if (set === undefined) {
    e = ctx.step("ioasid.set_alloc");
    if (e) return e;
    out.push({ type: "ioasid.set.allocated", data: { mm, cgroup } });
  }
  if (set?.svaPasid === undefined) {
    e = ctx.step("sva.alloc_pasid");
    if (e) return e;
    out.push(charged(cgroup, mm, 1), { type: "pasid.allocated", data: { pasid, use: "sva", mm } });
  }
  if (hooks !== undefined) {
    const hw = hooks.bind(ctx.root, { rid: c.rid, mm, pasid }, ctx);
    if (isErrno(hw)) return hw;
    out.push(...hw);
  }
  out.push({ type: "sva.bound", data: { bond: state.lastBond + 1, rid: c.rid, mm, pasid } });
  return out;
}

/** The hooks' teardown events for bond `b` (its pending fault groups answered first). */
export function unbindEvents<R>(
  state: IoasidState,
  root: R,
  b: SvaBond,
  hooks: SvaHooks<R> | undefined,
): Message[] {
  if (hooks === undefined) return [];
  const pending = state.iopf.filter((g) => g.rid === b.rid && g.pasid === b.pasid);
  return [...hooks.unbind(root, { rid: b.rid, mm: b.mm, pasid: b.pasid }, pending)];
}

/**
 * Events dropping bond `b` entirely: sva.unbound, then — when it was the
 * mm's last bond — the mm's SVA PASID freed and uncharged, and the set freed
 * unless its /dev/ioasid file still owns it.
 */
export function dropBond<R>(
  state: IoasidState,
  b: SvaBond,
  root?: R,
  hooks?: SvaHooks<R>,
): (IoasidEvent | Message)[] {
  const out: (IoasidEvent | Message)[] = [
    ...unbindEvents(state, root as R, b, hooks),
    { type: "sva.unbound", data: { bond: b.bond, rid: b.rid, mm: b.mm, pasid: b.pasid } },
  ];
  let others = false;
  for (const key in state.bonds) {
    const o = state.bonds[key]!;
    if (o.mm === b.mm && o.bond !== b.bond) others = true;
  }
  const set = state.sets[b.mm];
  if (!others && set !== undefined) {
    out.push(...freeSvaPasid(set));
    if (state.users[b.mm] === undefined && set.ids.size === 0)
      out.push({ type: "ioasid.set.freed", data: { mm: b.mm } });
  }
  return out;
}

/**
 * sva.unbind (iommu_sva_unbind_device()): drop one reference of `bond`.
 * Errors: ENOENT (no such bond).
 * Events: sva.unreferenced {refs} while references remain, else dropBond's
 * (with SVA hooks, the hardware teardown comes first).
 */
export function decideUnbind<R>(
  state: IoasidState,
  c: Cmd<"sva.unbind">,
  root?: R,
  hooks?: SvaHooks<R>,
): Decision {
  const b = state.bonds[c.bond];
  if (b === undefined) return errno("ENOENT", `no SVA bond ${c.bond}`);
  if (b.refs > 1) return [{ type: "sva.unreferenced", data: { bond: b.bond, refs: b.refs - 1 } }];
  return dropBond(state, b, root, hooks);
}
