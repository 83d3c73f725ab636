/**
 * The fault-queue panel's model, from the hardware up to user space:
 *
 * - VT-d, per unit: the primary fault recording registers in use (VT-d 4.1
 *   §7.2: reason, source, PASID, page address, read/write; FSTS.PFO), the
 *   page request queue's pending descriptors (§7.5: group index, LPIG,
 *   page address, PASID) and the page groups awaiting or holding a
 *   response (PRO when the queue overflowed);
 * - SMMUv3, per instance: the event queue's records (IHI 0070 §7.3, decoded
 *   with hw-smmu's `decodeEvent`), the PRI queue's page requests (§8) and
 *   the responses CMD_PRI_RESP delivered;
 * - iommufd, per fault object (Linux eventq.c `struct iommufd_fault`):
 *   complete groups not read yet (`deliver`), groups read and awaiting
 *   write(2) of a response, by cookie (`response`), and pages whose group's
 *   LAST_PAGE has not arrived (`partial`);
 * - the SVA fault queue (`root.ioasid.iopf`), per SVA bond: the groups
 *   awaiting the iopf workqueue and the answers the hardware got
 *   (sva-faults.ts).
 *
 * Slices are read structurally: a state without one of them shows nothing
 * for it.
 */
import {
  decodeEvent,
  decodePageRequest as decodePriRequest,
  type EventRecord,
  type PageRequest as PriRequest,
  type PriResponse,
  type SmmuInstance,
} from "@iommu-sim/hw-smmu";
import {
  type FaultRecord,
  type PageGroup,
  type PageRequest,
  pendingPageRequests,
  type VtdUnit,
} from "@iommu-sim/hw-vtd";
import { isMapLike, isRecord, tableValues } from "./slices";
import { type SvaQueueView, svaQueueView } from "./sva-faults";

/** One VT-d unit's fault side. */
export interface VtdFaultView {
  readonly unit: number;
  /** Fault recording registers holding a record (F set), by register index. */
  readonly records: readonly { readonly index: number; readonly record: FaultRecord }[];
  /** FSTS.PFO: a fault was lost because the recording registers were full. */
  readonly overflow: boolean;
  /** Page request descriptors between PQH and PQT, oldest first. */
  readonly requests: readonly PageRequest[];
  /** PRO: page requests were dropped because the queue was full. */
  readonly prqOverflow: boolean;
  /** Page groups the device awaits a response for, or got one (response code: 0 success, 1 invalid). */
  readonly groups: readonly PageGroup[];
}

/** One SMMU instance's fault side. */
export interface SmmuFaultView {
  readonly instance: number;
  /** Event records not consumed yet, oldest first. */
  readonly events: readonly EventRecord[];
  readonly evtqOverflow: boolean;
  /** PRI queue page requests not consumed yet. */
  readonly requests: readonly PriRequest[];
  readonly priqOverflow: boolean;
  /** Responses delivered by CMD_PRI_RESP (or the overflow auto-response), oldest first. */
  readonly responses: readonly PriResponse[];
}

/** One page of an iommufd group (`struct iommu_hwpt_pgfault` fields). */
export interface PageFaultView {
  readonly addr: bigint;
  readonly perm: number;
  readonly flags: number;
}

/** An iommufd page request group. */
export interface GroupView {
  readonly seq: number;
  readonly devId: number;
  /** "vtd 0 rid 0x10", "smmu 0 rid 0x8". */
  readonly source: string;
  readonly pasid: number;
  readonly grpid: number;
  readonly pages: readonly PageFaultView[];
  readonly cookie: number | undefined;
}

/** One iommufd fault object. */
export interface FaultObjectView {
  /** The fault object's kernel-object id (the key of `iommufd.faults`). */
  readonly kobj: number;
  readonly ctx: number;
  readonly id: number;
  /** Complete groups not read yet. */
  readonly pending: readonly GroupView[];
  /** Groups read and awaiting a response, ascending cookie. */
  readonly awaiting: readonly GroupView[];
  /** Groups still missing their LAST_PAGE page. */
  readonly partial: readonly GroupView[];
}

/** Everything the panel shows. */
export interface FaultsView {
  readonly vtd: readonly VtdFaultView[];
  readonly smmu: readonly SmmuFaultView[];
  /** Undefined when the iommufd slice has no fault queues at all (none allocated yet, or an iommufd without them). */
  readonly objects: readonly FaultObjectView[] | undefined;
  /** The SVA fault queue; undefined when the ioasid slice has none. */
  readonly sva: SvaQueueView | undefined;
}

function vtdFaults(root: Readonly<Record<string, unknown>>): VtdFaultView[] {
  const s = root.vtd;
  if (!isRecord(s) || !isMapLike(s.units)) return [];
  return [...s.units.values()]
    .map((v) => {
      const u = v as VtdUnit;
      const records = u.faults.flatMap((record, index) => (record === null ? [] : [{ index, record }]));
      return {
        unit: u.id,
        records,
        overflow: u.pfo,
        requests: pendingPageRequests(u),
        prqOverflow: u.pro,
        groups: [...u.pageGroups.values()],
      };
    })
    .sort((a, b) => a.unit - b.unit);
}

function smmuFaults(root: Readonly<Record<string, unknown>>): SmmuFaultView[] {
  const s = root.smmu;
  if (!isRecord(s) || !isMapLike(s.instances)) return [];
  return [...s.instances.values()]
    .map((v) => {
      const i = v as SmmuInstance;
      return {
        instance: i.id,
        events: i.evtq.records.map((w) => decodeEvent(w)),
        evtqOverflow: i.evtq.overflow !== i.evtq.overflowAck,
        requests: i.priq.records.map((w) => decodePriRequest(w)),
        priqOverflow: i.priq.overflow !== i.priq.overflowAck,
        responses: i.priResponses,
      };
    })
    .sort((a, b) => a.instance - b.instance);
}

function groupView(g: unknown): GroupView | undefined {
  if (!isRecord(g) || !isRecord(g.source) || !Array.isArray(g.pages)) return undefined;
  const src = g.source as { driver?: unknown; unit?: unknown; rid?: unknown };
  return {
    seq: typeof g.seq === "number" ? g.seq : -1,
    devId: typeof g.devId === "number" ? g.devId : 0,
    source: `${String(src.driver)} ${String(src.unit)} rid 0x${(typeof src.rid === "number" ? src.rid : 0).toString(16)}`,
    pasid: typeof g.pasid === "number" ? g.pasid : 0,
    grpid: typeof g.grpid === "number" ? g.grpid : 0,
    pages: (g.pages as unknown[]).filter(isRecord).map((p) => ({
      addr: typeof p.addr === "bigint" ? p.addr : 0n,
      perm: typeof p.perm === "number" ? p.perm : 0,
      flags: typeof p.flags === "number" ? p.flags : 0,
    })),
    cookie: typeof g.cookie === "number" ? g.cookie : undefined,
  };
}

/** The groups of a list (`deliver`, `partial`) or a table by cookie (`response`). */
const groups = (v: unknown): GroupView[] =>
  (Array.isArray(v) ? v : tableValues(v)).map(groupView).filter((g): g is GroupView => g !== undefined);

function faultObjects(root: Readonly<Record<string, unknown>>): FaultObjectView[] | undefined {
  const s = root.iommufd;
  if (!isRecord(s) || !isRecord(s.faults)) return undefined;
  return Object.entries(s.faults)
    .filter((e): e is [string, Record<string, unknown>] => isRecord(e[1]))
    .map(([kobj, q]) => ({
      kobj: Number(kobj),
      ctx: typeof q.ctx === "number" ? q.ctx : 0,
      id: typeof q.id === "number" ? q.id : 0,
      pending: groups(q.deliver),
      awaiting: groups(q.response).sort((a, b) => (a.cookie ?? 0) - (b.cookie ?? 0)),
      partial: groups(q.partial),
    }))
    .sort((a, b) => a.kobj - b.kobj);
}

/** The fault side of `root`: VT-d units, SMMU instances, iommufd fault objects, the SVA fault queue. */
export function faultsView(root: Readonly<Record<string, unknown>>): FaultsView {
  return {
    vtd: vtdFaults(root),
    smmu: smmuFaults(root),
    objects: faultObjects(root),
    sva: svaQueueView(root),
  };
}
