/**
 * The driver side, as pure functions over the `smmu` slice: allocating
 * paging domains (stage 1 by default, stage 2 for NEST_PARENT) and nested
 * domains from a guest STE, and mapping/unmapping paging domains with the
 * invalidations Linux issues. Attaching is in attach.ts.
 *
 * iommufd will call these from its evolve (issue 5); each returns the new
 * slice or the `Errno` Linux returns. The `plan*`/`check*` variants perform
 * every check without writing, for decide.
 *
 * Sources: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c
 * (arm_smmu_domain_finalise_s1/_s2), arm-smmu-v3-iommufd.c
 * (arm_vsmmu_alloc_domain_nested, arm_smmu_validate_vste), io-pgtable-arm.c.
 */
import { Errno, errno, isErrno } from "@iommu-sim/uapi";
import { bit, getField } from "./bits";
import { decodeCmd, type RawCmd } from "./commands";
import { applyCmd } from "./exec";
import { invalidateAfterUnmap, unmapInvalidations } from "./invalidate";
import { mapPages, type PfnRun, TableWriter, unmapPages } from "./pgtable";
import { IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, leafAttrs } from "./pte";
import type { SmmuDomain, SmmuInstance, SmmuState } from "./state";
import { withInstance } from "./state";
import { EATS, STE_CFG, STE0_NESTING_ALLOWED, STE1_NESTING_ALLOWED } from "./ste";
import { allocate } from "./tables";

/** The instance, or ENODEV. */
export function instanceOf(state: SmmuState, id: number): SmmuInstance | Errno {
  return state.instances.get(id) ?? errno("ENODEV", `no SMMU instance ${id}`);
}

/** The domain, or ENOENT. */
export function domainOf(inst: SmmuInstance, id: number): SmmuDomain | Errno {
  return inst.domains.get(id) ?? errno("ENOENT", `no SMMU domain ${id}`);
}

/** Replace one domain of the instance. */
export function withDomain(inst: SmmuInstance, d: SmmuDomain): SmmuInstance {
  const domains = new Map(inst.domains);
  domains.set(d.id, d);
  return { ...inst, domains };
}

/** Run commands as the driver's CMDQ batch + CMD_SYNC would (their effect only; they are well-formed). */
export function runCommands(inst: SmmuInstance, cmds: readonly RawCmd[]): SmmuInstance {
  let i = inst;
  for (const raw of cmds) {
    const c = decodeCmd(i.features, raw);
    if (c !== undefined) i = applyCmd(i, c);
  }
  return i;
}

/** The id the next `allocDomain` on this instance returns. */
export function nextDomainId(state: SmmuState, instance: number): number | Errno {
  const inst = instanceOf(state, instance);
  return isErrno(inst) ? inst : inst.nextDomain;
}

/**
 * Allocate a paging domain: "s1" (ASID from 1 up, arm_smmu_domain_finalise_s1:
 * EBUSY when the ASID space is full) or "s2" (VMID from 1 up,
 * arm_smmu_domain_finalise_s2: ENOSPC), with a zeroed level-0 table in
 * table memory (ENOMEM when exhausted). A stage the SMMU lacks → EOPNOTSUPP.
 */
export function allocDomain(state: SmmuState, instance: number, kind: "s1" | "s2"): SmmuState | Errno {
  const inst = instanceOf(state, instance);
  if (isErrno(inst)) return inst;
  if (kind === "s1" ? !inst.features.s1 : !inst.features.s2)
    return errno("EOPNOTSUPP", `SMMU ${instance} has no stage ${kind === "s1" ? 1 : 2}`);
  if (kind === "s1" && inst.nextAsid >= 2 ** inst.features.asidBits)
    return errno("EBUSY", "ASID space exhausted");
  if (kind === "s2" && inst.nextVmid >= 2 ** inst.features.vmidBits)
    return errno("ENOSPC", "VMID space exhausted");
  const a = allocate(inst, 4096);
  if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted");
  const d: SmmuDomain = {
    id: inst.nextDomain,
    kind,
    asid: kind === "s1" ? inst.nextAsid : 0,
    vmid: kind === "s2" ? inst.nextVmid : 0,
    ttb: a.pa,
    iaBits: 48,
    attached: [],
  };
  const next: SmmuInstance = {
    ...a.inst,
    nextDomain: inst.nextDomain + 1,
    nextAsid: inst.nextAsid + (kind === "s1" ? 1 : 0),
    nextVmid: inst.nextVmid + (kind === "s2" ? 1 : 0),
  };
  return withInstance(state, withDomain(next, d));
}

/**
 * Allocate a nested domain from a guest STE (`iommu_hwpt_arm_smmuv3.ste`,
 * words 0–1) over stage-2 domain `parent` (arm_vsmmu_alloc_domain_nested +
 * arm_smmu_validate_vste): flags ≠ 0 → EOPNOTSUPP; parent not a stage-2
 * domain → EINVAL; V = 0 → stored as all-zero (an abort STE on attach);
 * bits outside V, Cfg, S1Fmt, S1ContextPtr, S1CDMax, S1DSS, S1CIR, S1COR,
 * S1CSH, S1STALLD, EATS → EIO; Cfg not abort/bypass/stage-1 → EIO; EATS
 * not 0 or 1 → EIO. EATS is cleared in the stored STE; `enableAts` records it.
 */
export function allocNestedDomain(
  state: SmmuState,
  instance: number,
  parent: number,
  vste: readonly [bigint, bigint],
  flags = 0,
): SmmuState | Errno {
  const inst = instanceOf(state, instance);
  if (isErrno(inst)) return inst;
  if (flags !== 0) return errno("EOPNOTSUPP", "nested domain flags must be 0");
  const p = domainOf(inst, parent);
  if (isErrno(p)) return p;
  if (p.kind !== "s2") return errno("EINVAL", "nested parent must be a stage-2 (NEST_PARENT) domain");
  let ste: readonly [bigint, bigint] = [vste[0], vste[1]];
  let enableAts = false;
  if (!bit(ste[0], 0)) ste = [0n, 0n];
  else {
    if ((ste[0] & ~STE0_NESTING_ALLOWED) !== 0n || (ste[1] & ~STE1_NESTING_ALLOWED) !== 0n)
      return errno("EIO", "guest STE sets bits the host does not allow");
    const cfg = getField(ste[0], 3, 1);
    if (cfg !== STE_CFG.ABORT && cfg !== STE_CFG.BYPASS && cfg !== STE_CFG.S1_TRANS)
      return errno("EIO", "guest STE.Config must be abort, bypass or stage-1");
    const eats = getField(ste[1], 29, 28);
    if (eats !== EATS.ABT && eats !== EATS.TRANS) return errno("EIO", "guest STE.EATS must be 0 or 1");
    enableAts = cfg === STE_CFG.S1_TRANS && eats === EATS.TRANS;
    ste = [ste[0], ste[1] & ~(3n << 28n)];
  }
  const d: SmmuDomain = {
    id: inst.nextDomain,
    kind: "nested",
    asid: 0,
    vmid: p.vmid,
    ttb: 0,
    iaBits: 48,
    parent,
    vste: ste,
    enableAts,
    attached: [],
  };
  return withInstance(state, withDomain({ ...inst, nextDomain: inst.nextDomain + 1 }, d));
}

/**
 * Paging domain `domain` of `inst` (instance `instance`), or ENODEV,
 * ENOENT, EINVAL (a nested domain). `instanceof` at each site rather than
 * isErrno(): one shared check sees every shape in the program and goes
 * megamorphic on this hot path.
 */
function pagingDomain(inst: SmmuInstance | undefined, instance: number, domain: number): SmmuDomain | Errno {
  if (inst === undefined) return errno("ENODEV", `no SMMU instance ${instance}`);
  const d = inst.domains.get(domain);
  if (d === undefined) return errno("ENOENT", `no SMMU domain ${domain}`);
  if (d.kind === "nested") return errno("EINVAL", "a nested domain has no IO page table of the host's");
  return d;
}

/**
 * Map `pfnRuns` (4 KiB frames) at `iova` (bytes) with `prot` (IOMMU_READ |
 * IOMMU_WRITE | IOMMU_PRIV) into a paging domain (io-pgtable-arm map_pages).
 * Errors: ENODEV/ENOENT (unknown instance/domain), EINVAL (nested domain,
 * misaligned or out-of-range IOVA, no READ/WRITE), EEXIST, ENOMEM.
 */
export function mapRange(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  pfnRuns: readonly PfnRun[],
  prot: number,
): SmmuState | Errno {
  const w = planMapWrites(state, instance, domain, iova, pfnRuns, prot);
  if (w instanceof Errno) return w;
  return withTables(state, state.instances.get(instance)!, w);
}

/**
 * The slice with the instance's table memory and allocator replaced by
 * what writer `w` did (its writes flushed). When the FrameStore was
 * written in place (same handle: the state has not escaped since, see
 * eventlog epoch.ts) and no frame was allocated or released, the slice
 * itself is unchanged: no copy of the instance or of the slice.
 */
function withTables(state: SmmuState, inst: SmmuInstance, w: TableWriter): SmmuState {
  const mem = w.flush();
  const freeFrames = w.freeFramesAfter();
  if (mem === inst.mem && w.next === inst.nextFree && freeFrames === inst.freeFrames) return state;
  return withInstance(state, { ...inst, mem, nextFree: w.next, freeFrames });
}

/** The leaf attributes of a map with `prot` into `d` (see `leafAttrs`). */
function leafLoOf(d: SmmuDomain, prot: number): number {
  return leafAttrs(d.kind === "s1" ? 1 : 2, prot & (IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV));
}

/** The checks and the page-table writes of a map, not yet performed (`flush()` does). */
function planMapWrites(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  pfnRuns: readonly PfnRun[],
  prot: number,
): TableWriter | Errno {
  const inst = state.instances.get(instance);
  const d = pagingDomain(inst, instance, domain);
  if (d instanceof Errno) return d;
  if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0)
    return errno("EINVAL", "prot needs IOMMU_READ or IOMMU_WRITE");
  const w = new TableWriter(inst!.mem, inst!.nextFree, inst!.tableEnd, inst!.freeFrames);
  return mapPages(w, d.ttb, iova, pfnRuns, leafLoOf(d, prot), 0) ?? w;
}

/**
 * Everything `mapRange` checks, without writing: the Errno it would return,
 * or how many 4 KiB table pages it will allocate (`tables`, one fallible
 * step each in decide).
 */
export function planMap(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  pfnRuns: readonly PfnRun[],
  prot: number,
): { inst: SmmuInstance; d: SmmuDomain; lo: number; tables: number } | Errno {
  const w = planMapWrites(state, instance, domain, iova, pfnRuns, prot);
  if (isErrno(w)) return w;
  const inst = state.instances.get(instance)!;
  const d = inst.domains.get(domain)!;
  return { inst, d, lo: leafLoOf(d, prot), tables: w.allocated };
}

/**
 * Unmap [iova, iova + length) (bytes) from a paging domain, then perform
 * the invalidations of `unmapInvalidations`. Errors: ENODEV/ENOENT,
 * EINVAL (nested domain, misaligned), ENOMEM (block split).
 */
export function unmapRange(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  length: bigint,
): SmmuState | Errno {
  const w = planUnmapWrites(state, instance, domain, iova, length);
  if (w instanceof Errno) return w;
  const inst = state.instances.get(instance)!;
  const written = withTables(state, inst, w);
  const before = written === state ? inst : written.instances.get(instance)!;
  const after = invalidateAfterUnmap(before, inst.domains.get(domain)!, iova, length);
  return after === before ? written : withInstance(written, after);
}

/** The checks and the page-table writes of an unmap, not yet performed (`flush()` does). */
function planUnmapWrites(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  length: bigint,
): TableWriter | Errno {
  const inst = state.instances.get(instance);
  const d = pagingDomain(inst, instance, domain);
  if (d instanceof Errno) return d;
  const w = new TableWriter(inst!.mem, inst!.nextFree, inst!.tableEnd, inst!.freeFrames);
  return unmapPages(w, d.ttb, iova, length) ?? w;
}

/** Everything `unmapRange` checks, without writing: the Errno, or the table pages block splits need and the invalidations. */
export function planUnmap(
  state: SmmuState,
  instance: number,
  domain: number,
  iova: bigint,
  length: bigint,
): { inst: SmmuInstance; d: SmmuDomain; tables: number; invalidations: RawCmd[] } | Errno {
  const w = planUnmapWrites(state, instance, domain, iova, length);
  if (isErrno(w)) return w;
  const inst = state.instances.get(instance)!;
  const d = inst.domains.get(domain)!;
  return { inst, d, tables: w.allocated, invalidations: unmapInvalidations(inst, d, iova, length) };
}

/**
 * Whether a domain may be freed (the checks of `freeDomain`, for decide:
 * nothing is written). @returns the domain, or ENODEV, ENOENT, EBUSY.
 */
export function checkFreeDomain(state: SmmuState, instance: number, domain: number): SmmuDomain | Errno {
  const inst = instanceOf(state, instance);
  if (isErrno(inst)) return inst;
  const d = domainOf(inst, domain);
  if (isErrno(d)) return d;
  if (d.attached.length > 0) return errno("EBUSY", "streams are attached to this domain");
  if ([...inst.domains.values()].some((x) => x.parent === domain))
    return errno("EBUSY", "nested domains use it");
  return d;
}

/**
 * Free a domain (arm_smmu_domain_free_paging / the nested domain's free):
 * EBUSY while streams are attached, or (stage 2) while nested domains use it
 * as parent. Its ASID/VMID are not reused by this model's counters; a
 * paging domain's table pages, its level-0 table included, go to the
 * instance's free list (free_io_pgtable_ops() → __arm_lpae_free_pgtable()).
 * Errors: see `checkFreeDomain`.
 */
export function freeDomain(state: SmmuState, instance: number, domain: number): SmmuState | Errno {
  const d = checkFreeDomain(state, instance, domain);
  if (isErrno(d)) return d;
  const inst = state.instances.get(instance)!;
  const domains = new Map(inst.domains);
  domains.delete(domain);
  if (d.kind === "nested") return withInstance(state, { ...inst, domains });
  const w = new TableWriter(inst.mem, inst.nextFree, inst.tableEnd, inst.freeFrames);
  w.release(d.ttb, 0);
  return withInstance(state, { ...inst, domains, mem: w.flush(), freeFrames: w.freeFramesAfter() });
}
