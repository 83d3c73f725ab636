/**
 * The VT-d panel's model: per remapping unit of `root.vtd`, what the
 * hardware reads for each attached device — its root entry and context
 * entry (found from the unit's root-table address exactly as the hardware
 * does: root entry of the bus, lower/upper context table by devfn < 128)
 * and the PASID-table entry of each attached PASID (PASID directory entry
 * PASID >> 6, entry PASID & 0x3f) — and each domain's page-table root,
 * the tree to expand level by level (pagetables.ts); a first-stage-only
 * PASID entry's own tree (an SVA bond's: the process's CPU page table in
 * RAM). Structures are read
 * from the unit's table memory, or from RAM (`root.mm.ram`) outside it.
 *
 * Sources: VT-d 4.1 §9.2 (root entry, 128 bits), §9.4 (scalable-mode
 * context entry, 256 bits), §9.5 (PASID directory entry, 64 bits), §9.6
 * (PASID-table entry, 512 bits); layouts decoded with @iommu-sim/hw-vtd's
 * `decode*Entry`.
 */
import {
  agawToLevels,
  type ContextEntry,
  decodeContextEntry,
  decodePasidEntry,
  decodeRootEntry,
  type PasidEntry,
  PGTT,
  type RootEntry,
  type VtdDomain,
  type VtdUnit,
} from "@iommu-sim/hw-vtd";
import { lookup, type PhysRead, type PtContext, type PtFormat, topShift } from "./pagetables";
import { isMapLike, isRecord } from "./slices";

/** A structure the hardware reads, where it read it. */
export interface At<T> {
  /** Physical address of the entry (bytes). */
  readonly pa: number;
  readonly entry: T;
}

/**
 * The first-stage table a first-stage-only PASID-table entry (PGTT 1)
 * points at: a host-physical x86-64 table (VT-d 4.1 §9.7), for an SVA
 * bond the process's own CPU page table (Linux `mm->pgd`, which
 * intel_svm_set_dev_pasid() writes as FSPTPTR).
 */
export interface VtdFirstStageView {
  /** FSPTPTR (bytes, host physical). */
  readonly root: number;
  /** log2 of a top-level entry's span: 39 (4-level, FLPM 0) or 48 (5-level, FLPM 1). */
  readonly shift: number;
  readonly ctx: PtContext;
  /** The process whose page table this is (its `mm.processes` pgd equals FSPTPTR), if any. */
  readonly pid: number | undefined;
}

/** One attached PASID of a device. */
export interface VtdPasidView {
  /** 0 = RID_PASID (requests without PASID). */
  readonly pasid: number;
  /** The domain attached there (DID). */
  readonly did: number;
  /** The PASID-table entry, or undefined when the PASID directory entry is not present. */
  readonly at: At<PasidEntry> | undefined;
  /** The tree a present first-stage-only entry points at (else undefined). */
  readonly firstStage: VtdFirstStageView | undefined;
}

/** A device the unit knows (one context entry programmed). */
export interface VtdDeviceView {
  readonly rid: number;
  /** bus:dev.fn, as lspci prints it ("03:00.0"). */
  readonly bdf: string;
  readonly pri: boolean;
  readonly ats: boolean;
  readonly root: At<RootEntry>;
  readonly context: At<ContextEntry> | undefined;
  readonly pasids: readonly VtdPasidView[];
}

/** A domain and how to walk its table. */
export interface VtdDomainView {
  readonly did: number;
  readonly kind: VtdDomain["kind"];
  readonly nestParent: boolean;
  /** The parent's DID (nested domains). */
  readonly parent: number | undefined;
  /** Entry format of the tree at `root`. */
  readonly format: PtFormat;
  /** Table pointer (SSPTPTR, or FSPTPTR — a guest-physical address when nested). */
  readonly root: number;
  /** log2 of a top-level entry's span. */
  readonly shift: number;
  /** Reading context (nested: first-stage table pointers are translated through the parent's second stage). */
  readonly ctx: PtContext;
  /** The devices and PASIDs using it, as "03:00.0 PASID 0". */
  readonly users: readonly string[];
  /** SVA domains: the process whose page table it walks (the pgd's owner in `mm.processes`). */
  readonly pid: number | undefined;
}

/** One unit. */
export interface VtdUnitView {
  readonly id: number;
  readonly cap: bigint;
  readonly ecap: bigint;
  /** Root-table address (RTADDR_REG). */
  readonly rootTable: number;
  /** Table-memory frames in use (4 KiB). */
  readonly tableFrames: number;
  readonly devices: readonly VtdDeviceView[];
  readonly domains: readonly VtdDomainView[];
}

/** PGTT names (VT-d §9.6 table 31). */
export const PGTT_NAME: Readonly<Record<number, string>> = {
  [PGTT.FL_ONLY]: "first-stage",
  [PGTT.SL_ONLY]: "second-stage",
  [PGTT.NESTED]: "nested",
  [PGTT.PT]: "pass-through",
};

/** bus:dev.fn of a requester id. */
export function bdf(rid: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${h(rid >> 8, 2)}:${h((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}

/** The reader of unit `u`: its table memory inside its region, RAM elsewhere. */
export function unitReader(u: VtdUnit, ram: { readU64(pa: number): bigint } | undefined): PhysRead {
  const base = u.config.tableBase;
  const end = base + u.config.tableFrames * 4096;
  return (pa) => (pa >= base && pa < end ? u.tables.readU64(pa) : (ram?.readU64(pa) ?? 0n));
}

function deviceView(
  u: VtdUnit,
  read: PhysRead,
  rid: number,
  pri: boolean,
  ats: boolean,
  attached: ReadonlyMap<number, number>,
  pids: ReadonlyMap<number, number>,
): VtdDeviceView {
  const rootPa = u.rootTable + (rid >> 8) * 16;
  const root = decodeRootEntry(read(rootPa), read(rootPa + 8));
  const devfn = rid & 0xff;
  const present = devfn < 128 ? root.lowerPresent : root.upperPresent;
  const ctp = devfn < 128 ? root.lowerCtp : root.upperCtp;
  const ctxPa = ctp + (devfn % 128) * 32;
  const context = present
    ? { pa: ctxPa, entry: decodeContextEntry(read(ctxPa), read(ctxPa + 8)) }
    : undefined;
  const pasids = [...attached.entries()]
    .sort(([a], [b]) => a - b)
    .map(([pasid, did]): VtdPasidView => {
      const none = { pasid, did, at: undefined, firstStage: undefined };
      if (context === undefined) return none;
      const dir = read(context.entry.pasidDirPtr + (pasid >> 6) * 8);
      if ((dir & 1n) === 0n) return none;
      const pa = Number(dir & 0x000f_ffff_ffff_f000n) + (pasid & 0x3f) * 64;
      const entry = decodePasidEntry(read(pa), read(pa + 8), read(pa + 16));
      return { pasid, did, at: { pa, entry }, firstStage: firstStage(entry, read, pids) };
    });
  return { rid, bdf: bdf(rid), pri, ats, root: { pa: rootPa, entry: root }, context, pasids };
}

/**
 * The first-stage tree of a present PGTT 1 entry, read where the hardware
 * reads it (FSPTPTR is host-physical in first-stage-only mode, so no
 * second-stage translation of table addresses); FLPM 1 = 5-level.
 */
function firstStage(
  e: PasidEntry,
  read: PhysRead,
  pids: ReadonlyMap<number, number>,
): VtdFirstStageView | undefined {
  if (!e.present || e.pgtt !== PGTT.FL_ONLY) return undefined;
  return { root: e.flptptr, shift: topShift(e.flpm === 1 ? 5 : 4), ctx: { read }, pid: pids.get(e.flptptr) };
}

/** Each process's pgd (`root.mm.processes`, Linux `mm->pgd`) → its pid; processes without one are left out. */
function pidsByPgd(mm: unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (!isRecord(mm) || !isMapLike(mm.processes)) return out;
  for (const [pid, p] of mm.processes.entries())
    if (isRecord(p) && typeof p.pgd === "number" && typeof pid === "number") out.set(p.pgd, pid);
  return out;
}

function domainView(
  u: VtdUnit,
  read: PhysRead,
  d: VtdDomain,
  users: string[],
  pids: ReadonlyMap<number, number>,
): VtdDomainView {
  const pid = d.kind === "sva" && d.s1 !== undefined ? pids.get(d.s1.pgtblAddr) : undefined;
  const common = { did: d.did, kind: d.kind, nestParent: d.nestParent, parent: d.parent, users, pid };
  if (d.s1 !== undefined && (d.kind === "nested" || d.kind === "sva")) {
    const shift = topShift(d.s1.addrWidth > 48 ? 5 : 4);
    const parent = d.parent === undefined ? undefined : u.domains.get(d.parent);
    const tableAddress =
      parent === undefined
        ? undefined
        : (gpa: number) =>
            lookup(read, "vtd-sl", parent.pgd, topShift(agawToLevels(parent.agaw)), BigInt(gpa));
    return {
      ...common,
      format: "vtd-fl",
      root: d.s1.pgtblAddr,
      shift,
      ctx: tableAddress === undefined ? { read } : { read, tableAddress },
    };
  }
  return { ...common, format: "vtd-sl", root: d.pgd, shift: topShift(agawToLevels(d.agaw)), ctx: { read } };
}

/** The VT-d units of `root` (undefined when the root has no `vtd` slice). */
export function vtdUnits(root: Readonly<Record<string, unknown>>): readonly VtdUnitView[] | undefined {
  const s = root.vtd;
  if (!isRecord(s) || !isMapLike(s.units)) return undefined;
  const mm = root.mm;
  const ram =
    isRecord(mm) && isRecord(mm.ram) ? (mm.ram as unknown as { readU64(pa: number): bigint }) : undefined;
  const pids = pidsByPgd(mm);
  const out: VtdUnitView[] = [];
  for (const value of s.units.values()) {
    const u = value as VtdUnit;
    const read = unitReader(u, ram);
    const users = new Map<number, string[]>();
    const devices = [...u.devices.values()]
      .sort((a, b) => a.rid - b.rid)
      .map((d) => {
        for (const [pasid, did] of d.attached)
          users.set(did, [...(users.get(did) ?? []), `${bdf(d.rid)} PASID ${pasid}`]);
        return deviceView(u, read, d.rid, d.pri, d.ats, d.attached, pids);
      });
    const domains = [...u.domains.values()]
      .sort((a, b) => a.did - b.did)
      .map((d) => domainView(u, read, d, users.get(d.did) ?? [], pids));
    out.push({
      id: u.id,
      cap: u.config.cap,
      ecap: u.config.ecap,
      rootTable: u.rootTable,
      tableFrames: u.tables.frameCount,
      devices,
      domains,
    });
  }
  return out.sort((a, b) => a.id - b.id);
}
