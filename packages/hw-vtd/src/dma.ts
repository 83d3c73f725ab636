/**
 * DMA requests: pure translation of a whole request (`translate`), reading
 * bytes through the unit (`dmaRead`), and what a request does to the
 * hardware (`dmaEvents`: cache fills, the RAM write, or the fault record /
 * page request).
 *
 * A request is translated page by page (4 KiB); it is all or nothing in
 * this model: on the first faulting page nothing is written, the fault is
 * reported, and the fills of the pages before it stay cached. A fault on a
 * PRI-capable device (context PRE = 1) that a page request can resolve
 * (`isRecoverable`) becomes a page request group — one request per missing
 * page, LPIG on the last — instead of a fault record; the device then waits
 * for the page group response and retries — in this model, the caller
 * dispatches the request again.
 *
 * Source: VT-d spec rev 4.1 §3 (translation), §7 (recoverable faults, page
 * requests), §7.2 (primary fault logging: FRI, F, PFO); PCIe PRI.
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { isRecoverable } from "./fault-reasons";
import { tagClass, tagDid, tagPasid } from "./iotlb";
import { inTableMemory, type Mem, type MmSlice, memOf } from "./memory";
import { freeGroupIndex, prqRoom } from "./prq";
import type { VtdState, VtdUnit } from "./state";
import { ACCESS, type FillSink, LAST, translatePage } from "./translate";

/** The root state this package reads: its own slice and, optionally, RAM. */
export interface VtdRoot {
  readonly vtd: VtdState;
  readonly mm?: MmSlice;
}

/** A DMA request of a device behind a unit. */
export interface DmaRequest {
  /** Requester id. */
  readonly rid: number;
  /** PASID of a request-with-PASID; absent = request-without-PASID. */
  readonly pasid?: number;
  /** Input address (bytes). */
  readonly iova: bigint;
  /** Length in bytes (> 0). */
  readonly length: number;
  readonly write: boolean;
  /** Supervisor (privileged-mode) request. */
  readonly privileged?: boolean;
  /** Execute request. */
  readonly exec?: boolean;
}

/** A translation fault. */
export interface DmaFault {
  readonly kind: "fault";
  /** Fault reason (see `FR`). */
  readonly reason: number;
  /** The faulting page's address (bytes, 4 KiB aligned). */
  readonly addr: bigint;
  /** FPD was set: the hardware does not record it. */
  readonly fpd: boolean;
  /** A page request resolves it (PRE set and the reason recoverable). */
  readonly pageRequest: boolean;
  /**
   * With `pageRequest`: every page of the request that needs one, in order
   * (the first fault, then later pages that fault recoverably, up to the
   * first page that faults otherwise) — one page request group.
   */
  readonly group: readonly { readonly addr: bigint; readonly reason: number }[];
}

/** A successful translation: the physical ranges, in request order, adjacent ones merged. */
export interface DmaRuns {
  readonly kind: "ok";
  readonly runs: readonly { readonly pa: bigint; readonly length: number }[];
}

function accessOf(req: DmaRequest): number {
  return (
    (req.write ? ACCESS.WRITE : 0) |
    (req.privileged === true ? ACCESS.PRIV : 0) |
    (req.exec === true ? ACCESS.EXEC : 0)
  );
}

/** Check a request's shape. @returns EINVAL for an empty or wrapping request. */
export function checkRequest(req: DmaRequest): Errno | undefined {
  if (!Number.isSafeInteger(req.length) || req.length <= 0) return errno("EINVAL", "length must be > 0");
  if (req.iova < 0n || req.iova + BigInt(req.length) > 1n << 64n)
    return errno("EINVAL", "request wraps 2^64");
  if (!Number.isInteger(req.rid) || req.rid < 0 || req.rid > 0xffff) return errno("EINVAL", "bad rid");
  if (req.pasid !== undefined && !(Number.isInteger(req.pasid) && req.pasid >= 0 && req.pasid <= 0xfffff))
    return errno("EINVAL", "PASIDs are 20 bits");
  return undefined;
}

function walkRequest(
  unit: VtdUnit,
  root: VtdRoot,
  req: DmaRequest,
  sink: FillSink | undefined,
): DmaRuns | DmaFault {
  const mem = memOf(unit, root.mm?.ram);
  const access = accessOf(req);
  const first = req.iova >> 12n;
  const last = (req.iova + BigInt(req.length) - 1n) >> 12n;
  const runs: { pa: bigint; length: number }[] = [];
  let off = Number(req.iova & 0xfffn);
  let left = req.length;
  for (let p = first; p <= last; p++) {
    const r = translatePage(unit, mem, req.rid, req.pasid ?? -1, Number(p), access, sink);
    if (r < 0) {
      const pageRequest = LAST.haveContext && LAST.pre && isRecoverable(-r);
      const fault = { kind: "fault", reason: -r, addr: p << 12n, fpd: LAST.fpd, pageRequest } as const;
      return { ...fault, group: pageRequest ? pageGroup(unit, mem, req, access, p, -r, last, sink) : [] };
    }
    const n = Math.min(4096 - off, left);
    const pa = BigInt(r) * 4096n + BigInt(off);
    const prev = runs[runs.length - 1];
    if (prev !== undefined && prev.pa + BigInt(prev.length) === pa) prev.length += n;
    else runs.push({ pa, length: n });
    left -= n;
    off = 0;
  }
  return { kind: "ok", runs };
}

/**
 * The pages of one page request group: the first faulting page, then each
 * later page of the request that also faults recoverably (a PRI device asks
 * for all the pages it misses), stopping at a page that faults otherwise.
 */
function pageGroup(
  unit: VtdUnit,
  mem: Mem,
  req: DmaRequest,
  access: number,
  from: bigint,
  reason: number,
  last: bigint,
  sink: FillSink | undefined,
): { addr: bigint; reason: number }[] {
  const group = [{ addr: from << 12n, reason }];
  for (let p = from + 1n; p <= last; p++) {
    const r = translatePage(unit, mem, req.rid, req.pasid ?? -1, Number(p), access, sink);
    if (r >= 0) continue;
    if (!isRecoverable(-r)) break;
    group.push({ addr: p << 12n, reason: -r });
  }
  return group;
}

/**
 * Translate `req` on unit `unitId` through the current caches without
 * changing anything. @returns the physical runs, the fault, or ENODEV (no
 * such unit) / EINVAL (bad request).
 */
export function translate(root: VtdRoot, unitId: number, req: DmaRequest): DmaRuns | DmaFault | Errno {
  const unit = root.vtd.units.get(unitId);
  if (unit === undefined) return errno("ENODEV", `no VT-d unit ${unitId}`);
  return checkRequest(req) ?? walkRequest(unit, root, req, undefined);
}

/**
 * Read `req.length` bytes a device would read at `req.iova` from RAM
 * (`root.mm.ram`; zeros without an mm slice). Pure: no cache fill. @returns the bytes, the fault, or ENODEV / EINVAL.
 */
export function dmaRead(root: VtdRoot, unitId: number, req: DmaRequest): Uint8Array | DmaFault | Errno {
  const t = translate(root, unitId, { ...req, write: false });
  if (t instanceof Uint8Array || !("kind" in t) || t.kind === "fault") return t;
  const ram = root.mm?.ram;
  const out = new Uint8Array(req.length);
  let at = 0;
  for (const run of t.runs) {
    if (ram !== undefined) out.set(ram.read(Number(run.pa), run.length), at);
    at += run.length;
  }
  return out;
}

/** The events `vtd.dma` produces; `mm.phys.written` is the mm subsystem's event (shared contract). */
export type DmaEvent =
  | { type: "vtd.context.cached"; data: { unit: number; rid: number; words: bigint[] } }
  | { type: "vtd.pasid.cached"; data: { unit: number; rid: number; pasid: number; words: bigint[] } }
  | {
      type: "vtd.iotlb.filled";
      data: {
        unit: number;
        did: number;
        pasid: number;
        cls: number;
        vpn: number;
        sizeIdx: number;
        pfn: number;
        perm: number;
      };
    }
  | { type: "mm.phys.written"; data: { pa: bigint; bytes: Uint8Array } }
  | { type: "vtd.entry.accessed"; data: { unit: number; pa: bigint; value: bigint } }
  | {
      type: "vtd.fault.recorded";
      data: {
        unit: number;
        index?: number;
        reason: number;
        rid: number;
        pasid?: number;
        addr: bigint;
        write: boolean;
        privileged: boolean;
        exec: boolean;
      };
    }
  | {
      type: "vtd.prq.queued";
      data: {
        unit: number;
        rid: number;
        pasid?: number;
        addr: bigint;
        read: boolean;
        write: boolean;
        exec: boolean;
        privileged: boolean;
        lpig: boolean;
        index: number;
        reason: number;
        overflow: boolean;
      };
    };

/** Collects cache fills as events, once per entry. */
class EventSink implements FillSink {
  readonly events: DmaEvent[] = [];
  private readonly seen = new Set<string>();
  /** Low words of first-stage entries already updated by this request, by PA. */
  private readonly written = new Map<number, number>();

  constructor(
    private readonly unit: number,
    private readonly mem: Mem,
  ) {}

  accessed(pa: number, lo: number, hi: number): void {
    const prev = this.written.get(pa);
    const merged = prev === undefined ? lo : (prev | lo) >>> 0;
    if (merged === prev) return;
    this.written.set(pa, merged);
    if (inTableMemory(this.mem, pa)) {
      // Second-stage entries live in the unit's table memory.
      const value = (BigInt(hi >>> 0) << 32n) | BigInt(merged);
      this.events.push({ type: "vtd.entry.accessed", data: { unit: this.unit, pa: BigInt(pa), value } });
      return;
    }
    // Guest-owned (nested) and process (SVA) first-stage tables are in RAM.
    const bytes = new Uint8Array(8);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, merged, true);
    v.setUint32(4, hi, true);
    this.events.push({ type: "mm.phys.written", data: { pa: BigInt(pa), bytes } });
  }

  context(rid: number, q0: bigint, q1: bigint): void {
    if (this.once(`c${rid}`))
      this.events.push({ type: "vtd.context.cached", data: { unit: this.unit, rid, words: [q0, q1] } });
  }

  pasid(rid: number, pasid: number, v0: bigint, v1: bigint, v2: bigint): void {
    if (this.once(`p${rid}:${pasid}`))
      this.events.push({
        type: "vtd.pasid.cached",
        data: { unit: this.unit, rid, pasid, words: [v0, v1, v2] },
      });
  }

  iotlb(tag: number, vpn: number, sizeIdx: number, pfn: number, perm: number): void {
    const scale = sizeIdx === 0 ? 1 : sizeIdx === 1 ? 512 : 262144;
    const first = vpn - (vpn % scale);
    if (this.once(`t${tag}:${first}:${sizeIdx}`))
      this.events.push({
        type: "vtd.iotlb.filled",
        data: {
          unit: this.unit,
          did: tagDid(tag),
          pasid: tagPasid(tag),
          cls: tagClass(tag),
          vpn: first,
          sizeIdx,
          pfn,
          perm,
        },
      });
  }

  private once(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

/**
 * What a DMA request does (for `decide`): cache fills, then either the
 * write's `mm.phys.written` events (one per physically contiguous run; a
 * read writes nothing) or the fault — a page request when the device has
 * PRE and the fault is recoverable, else a fault record unless FPD is set
 * (a lost one when the next fault recording register is still full: PFO).
 * `bytes` is the data of a write (length = `req.length`).
 */
export function dmaEvents(unit: VtdUnit, root: VtdRoot, req: DmaRequest, bytes?: Uint8Array): DmaEvent[] {
  const sink = new EventSink(unit.id, memOf(unit, root.mm?.ram));
  const r = walkRequest(unit, root, req, sink);
  const events = sink.events;
  if (r.kind === "fault") {
    const pasid = req.pasid === undefined ? {} : { pasid: req.pasid };
    if (r.pageRequest) {
      const index = freeGroupIndex(unit, req.rid);
      const room = prqRoom(unit);
      r.group.forEach((page, i) => {
        events.push({
          type: "vtd.prq.queued",
          data: {
            unit: unit.id,
            rid: req.rid,
            ...pasid,
            addr: page.addr,
            read: !req.write,
            write: req.write,
            exec: req.exec === true,
            privileged: req.privileged === true,
            lpig: i === r.group.length - 1,
            index: Math.max(index, 0),
            reason: page.reason,
            overflow: index < 0 || i >= room,
          },
        });
      });
    } else if (!r.fpd) {
      const free = unit.faults[unit.fri] === null && !unit.pfo;
      events.push({
        type: "vtd.fault.recorded",
        data: {
          unit: unit.id,
          ...(free ? { index: unit.fri } : {}),
          reason: r.reason,
          rid: req.rid,
          ...pasid,
          addr: r.addr,
          write: req.write,
          privileged: req.privileged === true,
          exec: req.exec === true,
        },
      });
    }
    return events;
  }
  if (req.write && bytes !== undefined) {
    let at = 0;
    for (const run of r.runs) {
      events.push({ type: "mm.phys.written", data: { pa: run.pa, bytes: bytes.slice(at, at + run.length) } });
      at += run.length;
    }
  }
  return events;
}
