/**
 * The `ioasid` slice of the root state: the PASID space (a bulk bitmap), and
 * the small object graph around it — IOASID sets, /dev/ioasid files, quota
 * groups, SVA bonds and system PASIDs — as plain frozen records.
 */
import { PasidBitmap } from "./bitmap";
import type { SvaIopfGroup } from "./sva-hooks";

/** The root quota group (the misc cgroup root): no limit of its own. */
export const ROOT_CGROUP = 0;

/**
 * An IOASID set: the PASIDs of one process address space (the RFC's
 * `ioasid_set` with an mm token, IOASID_SET_TYPE_MM).
 */
export interface IoasidSet {
  /** The owner's address space; also the set's key. */
  readonly mm: number;
  /** The quota group charged for this set's PASIDs (the owner's at creation, as misc cgroup users keep `misc_cg`). */
  readonly cgroup: number;
  /** PASIDs allocated through /dev/ioasid (IOASID_REQUEST_ALLOC). */
  readonly ids: PasidBitmap;
  /** The mm's SVA PASID (Linux's `mm->pasid`), shared by all its bonds; absent when unbound. */
  readonly svaPasid?: number;
}

/** An open file of /dev/ioasid (`struct file` with its `ioasid_user`). */
export interface IoasidFile {
  readonly fd: number;
  /** The mm of the process that opened it: the only one that may allocate and free through it. */
  readonly mm: number;
  /** Processes holding it (the opener, forked children, SCM_RIGHTS receivers), ascending. */
  readonly holders: readonly number[];
}

/** A quota group: misc cgroup's `ioasid` resource (kernel/cgroup/misc.c). */
export interface QuotaGroup {
  readonly cgroup: number;
  /** Parent group; absent for the root. */
  readonly parent?: number;
  /** misc.max in PASIDs; absent = "max" (no limit). */
  readonly max?: number;
  /** misc.current: PASIDs charged here and in every descendant. */
  readonly usage: number;
}

/** An SVA bond (`struct iommu_sva` handle): a device bound to an mm. */
export interface SvaBond {
  readonly bond: number;
  readonly rid: number;
  readonly mm: number;
  readonly pasid: number;
  /** Binds not yet unbound (iommu_sva_bind_device() takes one each). */
  readonly refs: number;
}

/** The `ioasid` slice. */
export interface IoasidState {
  /** Every PASID taken on the platform (sets' ids, SVA, system and reserved). */
  readonly space: PasidBitmap;
  /** The PASID reserved for requests without PASID (VT-d RID2PASID), if the platform reserves one. */
  readonly reserved: number | undefined;
  /** IOASID sets by mm. */
  readonly sets: Readonly<Record<number, IoasidSet>>;
  /** Open /dev/ioasid files by fd. */
  readonly files: Readonly<Record<number, IoasidFile>>;
  /** The open file of each mm (the RFC allows one open per process address space). */
  readonly users: Readonly<Record<number, number>>;
  /** Quota groups by id; the root (0) always exists. */
  readonly cgroups: Readonly<Record<number, QuotaGroup>>;
  /** Each process's quota group, when not the root. */
  readonly membership: Readonly<Record<number, number>>;
  /** SVA bonds by handle. */
  readonly bonds: Readonly<Record<number, SvaBond>>;
  /** Option 1 system PASIDs: rid → PASID equivalent to the RID. */
  readonly systemPasids: Readonly<Record<number, number>>;
  /** Option 2: the kernel direct-map PASID and the devices attached to it (ascending rids). */
  readonly directMap: { readonly pasid: number; readonly rids: readonly number[] } | undefined;
  /** The administrator's toggle for option 2 (default off). */
  readonly allowDirectMap: boolean;
  /** Last fd and bond handle given out (ids are never reused). */
  readonly lastFd: number;
  readonly lastBond: number;
  /**
   * The SVA fault queue: page request groups at SVA-bound PASIDs, oldest
   * first, awaiting the iopf workqueue (`sva.iopf.handle`); filled from the
   * drivers' page requests (see sva-hooks.ts).
   */
  readonly iopf: readonly SvaIopfGroup[];
  /** Last SVA fault group id given out. */
  readonly lastIopf: number;
}

/** Configuration of the PASID space. */
export interface PasidSpaceConfig {
  /** PASID width: PCIe PASIDs (and SMMUv3 SSIDs) are 20 bits. Default 20. */
  readonly pasidBits?: number;
  /**
   * Reserve PASID 0 for requests without PASID, as VT-d scalable mode does
   * (RID2PASID, `IOMMU_NO_PASID`). Default true.
   */
  readonly reservePasid0?: boolean;
}

/**
 * The initial `ioasid` slice for a platform. Its bitmap is frozen, so
 * evolving from it never writes into it (see PasidBitmap.frozen).
 */
export function initialIoasidState(config: PasidSpaceConfig = {}): IoasidState {
  let space = PasidBitmap.empty(config.pasidBits ?? 20);
  const reserve = config.reservePasid0 ?? true;
  if (reserve) space = space.set(0);
  return {
    space: space.frozen(),
    reserved: reserve ? 0 : undefined,
    sets: {},
    files: {},
    users: {},
    cgroups: { [ROOT_CGROUP]: { cgroup: ROOT_CGROUP, usage: 0 } },
    membership: {},
    bonds: {},
    systemPasids: {},
    directMap: undefined,
    allowDirectMap: false,
    lastFd: 0,
    lastBond: 0,
    iopf: [],
    lastIopf: 0,
  };
}

/**
 * `state` with the fields of `patch` replaced. Written as one object literal
 * because V8 builds it ~10× faster than an object spread, and evolve runs
 * it for every event.
 */
export function update(state: IoasidState, patch: Partial<IoasidState>): IoasidState {
  return {
    space: patch.space ?? state.space,
    reserved: state.reserved,
    sets: patch.sets ?? state.sets,
    files: patch.files ?? state.files,
    users: patch.users ?? state.users,
    cgroups: patch.cgroups ?? state.cgroups,
    membership: patch.membership ?? state.membership,
    bonds: patch.bonds ?? state.bonds,
    systemPasids: patch.systemPasids ?? state.systemPasids,
    directMap: "directMap" in patch ? patch.directMap : state.directMap,
    allowDirectMap: patch.allowDirectMap ?? state.allowDirectMap,
    lastFd: patch.lastFd ?? state.lastFd,
    lastBond: patch.lastBond ?? state.lastBond,
    iopf: patch.iopf ?? state.iopf,
    lastIopf: patch.lastIopf ?? state.lastIopf,
  };
}

/** The quota group of process `pid` (the root unless attached elsewhere). */
export function cgroupOf(state: IoasidState, pid: number): number {
  return state.membership[pid] ?? ROOT_CGROUP;
}

/**
 * The mm of process `pid`. fork() gives every process a new address space
 * and threads are not modelled, so a process's mm id is its pid.
 */
export function mmOf(pid: number): number {
  return pid;
}

/** The PASIDs of mm's IOASID set, ascending: its /dev/ioasid ids and its SVA PASID (ioasid_set_for_each_ioasid()). */
export function setPasids(state: IoasidState, mm: number): number[] {
  const set = state.sets[mm];
  if (set === undefined) return [];
  const ids = [...set.ids.ids()];
  if (set.svaPasid !== undefined) {
    ids.push(set.svaPasid);
    ids.sort((a, b) => a - b);
  }
  return ids;
}

/**
 * The request tags through which device `rid`'s DMA-API domain is visible:
 * the RID itself and, with an option-1 system PASID, that PASID too. Every
 * invalidation of the device's DMA domain must flush each of them (Jason
 * Gunthorpe: "flushes both the RID and PASID based caches").
 */
export function dmaDomainTags(state: IoasidState, rid: number): { rid: number; pasid?: number }[] {
  const pasid = state.systemPasids[rid];
  return pasid === undefined ? [{ rid }] : [{ rid }, { rid, pasid }];
}
