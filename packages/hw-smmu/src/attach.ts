/**
 * Attaching a stream (or one PASID of it) to a domain, as Linux's
 * arm_smmu_attach_dev / arm_smmu_set_pasid / arm_smmu_attach_dev_nested:
 * allocate the level-2 stream table and the CD table on first use, write
 * the STE/CD, then CFGI + SYNC.
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { cmd } from "./commands";
import { cdTableSte, nestedSte, s1DomainCd, s2DomainSte } from "./descriptors";
import { domainOf, instanceOf, runCommands, withDomain } from "./domain";
import { PhysReader } from "./phys";
import type { CdTable, SmmuDomain, SmmuInstance, SmmuState } from "./state";
import { withInstance } from "./state";
import { decodeSte, EATS, encodeSte, S1DSS, STE_CFG } from "./ste";
import {
  allocate,
  cdNeedsL2,
  cdsPerLeaf,
  cdTableLayout,
  l2StreamTableBytes,
  steAddress,
  steNeedsL2,
  writeCd,
  writeSte,
} from "./tables";

/** Options of `attachDevice`. */
export interface AttachOptions {
  /** SubstreamID (PASID) to attach at; absent = the whole stream (RID). */
  readonly ssid?: number;
  /** The device has ATS enabled: STE.EATS = 1 (Linux arm_smmu_ats_supported). Default false. */
  readonly ats?: boolean;
  /** PASID width of the device (master->ssid_bits), for its CD table; default IDR1.SSIDSIZE. */
  readonly ssidBits?: number;
}

/**
 * A dry run (decide): nothing is written; each table-memory allocation the
 * attach would make is listed by its fallible-step site, in order.
 */
interface Plan {
  readonly sites: string[];
}

/** Where `sid`'s STE goes, allocating its level-2 stream table if needed; or why it cannot. */
function stePlacement(
  inst: SmmuInstance,
  sid: number,
  plan?: Plan,
): Errno | { inst: SmmuInstance; l2?: number } {
  if (!(Number.isInteger(sid) && sid >= 0 && sid < 2 ** inst.features.sidBits))
    return errno("EINVAL", `StreamID ${sid} beyond IDR1.SIDSIZE`);
  if (!steNeedsL2(inst, sid)) return { inst };
  plan?.sites.push("smmu.l2_strtab_alloc");
  const a = allocate(inst, l2StreamTableBytes(inst), 64);
  if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted (L2 stream table)");
  return { inst: a.inst, l2: a.pa };
}

function installSte(
  inst: SmmuInstance,
  sid: number,
  words: readonly bigint[],
  plan: Plan | undefined,
): SmmuInstance | Errno {
  const p = stePlacement(inst, sid, plan);
  if (isErrno(p)) return p;
  if (plan !== undefined) return p.inst;
  // The driver's arm_smmu_write_ste ends with CMD_CFGI_STE(sid) + CMD_SYNC.
  return runCommands(writeSte(p.inst, sid, words, p.l2), [cmd.cfgiSte(sid), cmd.sync()]);
}

function ensureCdTable(
  inst: SmmuInstance,
  sid: number,
  ssidBits: number,
  plan: Plan | undefined,
): [SmmuInstance, CdTable] | Errno {
  const have = inst.cdTables.get(sid);
  if (have !== undefined) return [inst, have];
  plan?.sites.push("smmu.cdtab_alloc");
  const layout = cdTableLayout(inst, ssidBits);
  const a = allocate(inst, layout.bytes, 64);
  if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted (CD table)");
  const table: CdTable = { base: a.pa, s1fmt: layout.s1fmt, s1cdmax: layout.s1cdmax };
  const cdTables = new Map(inst.cdTables);
  cdTables.set(sid, table);
  return [{ ...a.inst, cdTables }, table];
}

function installCd(
  inst: SmmuInstance,
  sid: number,
  table: CdTable,
  ssid: number,
  words: readonly bigint[],
  plan: Plan | undefined,
): SmmuInstance | Errno {
  let i = inst;
  let l2: number | undefined;
  if (cdNeedsL2(i, table, ssid)) {
    plan?.sites.push("smmu.l2_cdtab_alloc");
    const a = allocate(i, cdsPerLeaf(table.s1fmt) * 64, 4096);
    if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted (CD leaf)");
    i = a.inst;
    l2 = a.pa;
  }
  if (plan !== undefined) return i;
  return runCommands(writeCd(i, table, ssid, words, l2), [cmd.cfgiCd(sid, ssid), cmd.sync()]);
}

function detachEverywhere(inst: SmmuInstance, sid: number, ssid: number | undefined): SmmuInstance {
  let domains: Map<number, SmmuDomain> | undefined;
  for (const d of inst.domains.values()) {
    const kept = d.attached.filter((a) => !(a.sid === sid && a.ssid === ssid));
    if (kept.length !== d.attached.length) {
      domains ??= new Map(inst.domains);
      domains.set(d.id, { ...d, attached: kept });
    }
  }
  return domains === undefined ? inst : { ...inst, domains };
}

/**
 * Attach StreamID `sid` (or its PASID `opts.ssid`) to `domain`, writing the
 * STE/CD as Linux does and invalidating them (CFGI_STE/CFGI_CD + SYNC):
 * - stage 1, RID: CD table (allocated on first use), CD at SSID 0, STE with
 *   S1DSS = SSID0; stage 1, PASID: CD at `ssid` (SSID ≥ 1), STE created with
 *   S1DSS = TERMINATE if the stream has no CD table yet;
 * - stage 2: the S2 STE (PASID → EINVAL: S2 domains cannot be PASID-attached);
 * - nested: the STE from the guest STE + parent (PASID → EINVAL; EBUSY when
 *   PASIDs are attached, arm_smmu_attach_dev_nested).
 * Errors: ENODEV/ENOENT, EINVAL (SID/SSID out of range), EBUSY, ENOMEM.
 */
export function attachDevice(
  state: SmmuState,
  instance: number,
  domain: number,
  sid: number,
  opts: AttachOptions = {},
): SmmuState | Errno {
  return attach(state, instance, domain, sid, opts, undefined);
}

/**
 * The checks of `attachDevice` without any write (for decide): the Errno it
 * would return, or the table-memory allocations it will make, as fallible-
 * step sites in order ("smmu.cdtab_alloc", "smmu.l2_cdtab_alloc",
 * "smmu.l2_strtab_alloc").
 */
export function checkAttach(
  state: SmmuState,
  instance: number,
  domain: number,
  sid: number,
  opts: AttachOptions = {},
): Errno | { readonly sites: readonly string[] } {
  const plan: Plan = { sites: [] };
  const r = attach(state, instance, domain, sid, opts, plan);
  return isErrno(r) ? r : plan;
}

function attach(
  state: SmmuState,
  instance: number,
  domain: number,
  sid: number,
  opts: AttachOptions,
  plan: Plan | undefined,
): SmmuState | Errno {
  const i0 = instanceOf(state, instance);
  if (isErrno(i0)) return i0;
  const d = domainOf(i0, domain);
  if (isErrno(d)) return d;
  const ats = opts.ats === true && i0.features.ats;
  const ssid = opts.ssid;
  let inst: SmmuInstance | Errno;
  if (d.kind === "s1") {
    const ssidBits = Math.min(opts.ssidBits ?? i0.features.ssidBits, i0.features.ssidBits);
    if (ssid !== undefined && !(Number.isInteger(ssid) && ssid >= 1 && ssid < 2 ** ssidBits))
      return errno("EINVAL", `PASID ${ssid} out of range`);
    const hadTable = i0.cdTables.has(sid);
    const t = ensureCdTable(i0, sid, ssidBits, plan);
    if (isErrno(t)) return t;
    const [withTable, table] = t;
    inst = installCd(withTable, sid, table, ssid ?? 0, s1DomainCd(withTable, d), plan);
    if (!isErrno(inst) && (ssid === undefined || !hadTable))
      inst = installSte(
        inst,
        sid,
        cdTableSte(table, ssid === undefined ? S1DSS.SSID0 : S1DSS.TERMINATE, ats),
        plan,
      );
  } else {
    if (ssid !== undefined) return errno("EINVAL", "only stage-1 domains attach to a PASID");
    if (d.kind === "nested") {
      const busy = [...i0.domains.values()].some((x) =>
        x.attached.some((a) => a.sid === sid && a.ssid !== undefined),
      );
      if (busy) return errno("EBUSY", "PASIDs are attached to this stream");
      const parent = i0.domains.get(d.parent ?? -1);
      if (parent === undefined) return errno("ENOENT", "nested domain lost its parent");
      inst = installSte(i0, sid, nestedSte(i0, d, parent, ats), plan);
    } else inst = installSte(i0, sid, s2DomainSte(i0, d, ats), plan);
  }
  if (isErrno(inst)) return inst;
  inst = detachEverywhere(inst, sid, ssid);
  const dom = inst.domains.get(domain)!;
  inst = withDomain(inst, {
    ...dom,
    attached: [...dom.attached, { sid, ...(ssid === undefined ? {} : { ssid }) }],
  });
  return withInstance(state, inst);
}

/**
 * Detach StreamID `sid` (or its PASID `ssid`) — Linux's blocking domain
 * (arm_smmu_attach_dev_blocked: an abort STE; arm_smmu_blocking_set_dev_pasid:
 * the PASID's CD cleared), then CFGI_STE/CFGI_CD + SYNC, and ATC_INV of the
 * whole range for a stream that had ATS (arm_smmu_atc_inv_master). The
 * stream's CD table stays allocated. Errors: ENODEV, EINVAL (SID beyond
 * SIDSIZE, or a PASID on a stream without a CD table).
 */
export function detachDevice(
  state: SmmuState,
  instance: number,
  sid: number,
  ssid?: number,
): SmmuState | Errno {
  const i0 = instanceOf(state, instance);
  if (isErrno(i0)) return i0;
  if (!(Number.isInteger(sid) && sid >= 0 && sid < 2 ** i0.features.sidBits))
    return errno("EINVAL", `StreamID ${sid} beyond IDR1.SIDSIZE`);
  const table = i0.cdTables.get(sid);
  if (ssid !== undefined && (table === undefined || ssid < 1 || ssid >= 2 ** table.s1cdmax))
    return errno("EINVAL", `PASID ${ssid} is not attachable on StreamID ${sid}`);
  const hadAts = atsEnabled(i0, sid);
  let inst: SmmuInstance | Errno =
    ssid === undefined
      ? installSte(i0, sid, encodeSte({ v: true, config: STE_CFG.ABORT }), undefined)
      : installCd(i0, sid, table!, ssid, new Array<bigint>(8).fill(0n), undefined);
  if (isErrno(inst)) return inst;
  if (hadAts) inst = runCommands(inst, [cmd.atcInv(sid, ssid, 0n, 52), cmd.sync()]);
  return withInstance(state, detachEverywhere(inst, sid, ssid));
}

/** Whether the STE the driver last wrote for `sid` enables ATS (EATS = 1). */
function atsEnabled(inst: SmmuInstance, sid: number): boolean {
  if (steNeedsL2(inst, sid)) return false;
  const mem = new PhysReader(inst.mem, inst.tableBase, inst.tableEnd, undefined);
  const pa = steAddress(inst, mem, sid);
  return typeof pa === "number" && decodeSte(mem.readWords(pa, 8)).eats === EATS.TRANS;
}
