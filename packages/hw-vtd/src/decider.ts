/**
 * The `vtd` subsystem: decide checks a command against the units (every
 * place Linux can fail is a `ctx.step`) and returns events; evolve applies
 * them with the pure functions of tables.ts, sl-map.ts, driver.ts, free.ts,
 * qi.ts and prq.ts. Root key `vtd`, command prefix `vtd.`; it reads
 * `root.mm.ram` (shared contract) for guest-owned structures and emits
 * `mm.phys.written` for DMA writes, first-stage A/D updates and
 * invalidation-wait status writes to RAM.
 */
import type { Subsystem, SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno, type VtdCommand, type VtdEvent } from "@iommu-sim/uapi";
import { type Descriptor, decodeDescriptors, descriptorSize, encodeDescriptors } from "./descriptors";
import { checkRequest, type DmaEvent, dmaEvents, type VtdRoot } from "./dma";
import {
  allocIdentity,
  allocNested,
  allocPaging,
  allocSva,
  attachDevice,
  checkAllocIdentity,
  checkAllocNested,
  checkAllocPaging,
  checkAllocSva,
  checkAttach,
  checkDetach,
  checkMap,
  checkSetDirtyTracking,
  checkUnmap,
  clearDirty,
  detachDevice,
  deviceCaps,
  domainInUse,
  IDENTITY_DID,
  mapDomain,
  setDirtyTracking,
  unmapDomain,
  userInvalidate,
} from "./driver";
import { decodeContextEntry, decodePasidEntry } from "./entries";
import { freeDomainTables } from "./free";
import { tlbTag } from "./iotlb";
import { inTableMemory, memOf } from "./memory";
import { encodePageRequest, prqSize } from "./prq";
import { executeDescriptor, statusWrites } from "./qi";
import { capNumFaultRegs } from "./regs";
import {
  DEFAULT_UNIT_CONFIG,
  initialVtdState,
  mapDelete,
  mapSet,
  newUnit,
  PRQ_DESC_SIZE,
  unitFeatures,
  type VtdState,
  type VtdUnit,
  type VtdUnitConfig,
  withUnit,
} from "./state";

/** Everything `vtd` emits: its own events and `mm.phys.written`. */
export type VtdEmitted = VtdEvent | Extract<DmaEvent, { type: "mm.phys.written" }>;

type Ctx = SubsystemDecideContext<VtdRoot>;
type Cmd<T extends VtdCommand["type"]> = Extract<VtdCommand, { type: T }>;

function unitOf(state: VtdState, id: number): VtdUnit | Errno {
  return state.units.get(id) ?? errno("ENODEV", `no VT-d unit ${id}`);
}

function addUnit(state: VtdState, c: Cmd<"vtd.unit.add">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const d = c.data;
  if (state.units.has(d.unit)) return errno("EEXIST", `unit ${d.unit} exists`);
  const D = DEFAULT_UNIT_CONFIG;
  const cfg = {
    unit: d.unit,
    cap: d.cap ?? D.cap,
    ecap: d.ecap ?? D.ecap,
    tableBase: d.tableBase ?? BigInt(D.tableBase),
    tableFrames: d.tableFrames ?? D.tableFrames,
    iotlbSize: d.iotlbSize ?? D.iotlbSize,
    contextCacheSize: d.contextCacheSize ?? D.contextCacheSize,
    pasidCacheSize: d.pasidCacheSize ?? D.pasidCacheSize,
    prqFrames: d.prqFrames ?? D.prqFrames,
  };
  if ((cfg.tableBase & 0xfffn) !== 0n || cfg.tableBase + BigInt(cfg.tableFrames) * 4096n > 2n ** 52n)
    return errno("EINVAL", "table memory must be 4 KiB aligned and below 2^52");
  if (cfg.prqFrames < 1 || cfg.tableFrames < 2 + cfg.prqFrames)
    return errno("EINVAL", "table memory too small for the root table and the page request queue");
  const end = Number(cfg.tableBase) + cfg.tableFrames * 4096;
  for (const u of state.units.values()) {
    const uEnd = u.config.tableBase + u.config.tableFrames * 4096;
    if (Number(cfg.tableBase) < uEnd && u.config.tableBase < end)
      return errno("EINVAL", `table memory overlaps unit ${u.id}'s`);
  }
  const fx = unitFeatures({ ...D, cap: cfg.cap, ecap: cfg.ecap });
  if (!fx.smts) return errno("EOPNOTSUPP", "only scalable mode (ECAP.SMTS) is modelled");
  const e = ctx.step("vtd.unit_alloc");
  if (e) return e;
  return [{ type: "vtd.unit.added", data: cfg }];
}

function allocDomain(state: VtdState, c: Cmd<"vtd.domain.alloc">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  if (c.data.identity === true) {
    if (c.data.nestParent === true) return errno("EINVAL", "an identity domain cannot be a nest parent");
    const bad = checkAllocIdentity(unit);
    if (bad) return bad;
    return [
      {
        type: "vtd.domain.allocated",
        data: { unit: unit.id, did: IDENTITY_DID, nestParent: false, identity: true },
      },
    ];
  }
  const opts = { nestParent: c.data.nestParent === true, dirtyTracking: c.data.dirtyTracking === true };
  const did = checkAllocPaging(unit, opts);
  if (isErrno(did)) return did;
  const e = ctx.step("vtd.domain_alloc") ?? ctx.step("vtd.did_alloc", "ENOSPC") ?? ctx.step("vtd.pgd_alloc");
  if (e) return e;
  const dirty = opts.dirtyTracking ? { dirtyTracking: true } : {};
  return [
    { type: "vtd.domain.allocated", data: { unit: unit.id, did, nestParent: opts.nestParent, ...dirty } },
  ];
}

function allocNestedDomain(
  state: VtdState,
  c: Cmd<"vtd.domain.alloc_nested">,
  ctx: Ctx,
): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const r = checkAllocNested(unit, c.data.parent, c.data.data);
  if (isErrno(r)) return r;
  const e = ctx.step("vtd.domain_alloc") ?? ctx.step("vtd.did_alloc", "ENOSPC");
  if (e) return e;
  const s1 = { flags: r.s1.flags, pgtblAddr: BigInt(r.s1.pgtblAddr), addrWidth: r.s1.addrWidth };
  return [
    {
      type: "vtd.domain.allocated",
      data: { unit: unit.id, did: r.did, nestParent: false, parent: c.data.parent, s1 },
    },
  ];
}

function allocSvaDomain(
  state: VtdState,
  c: Cmd<"vtd.domain.alloc_sva">,
  ctx: Ctx,
): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const did = checkAllocSva(unit, c.data.pgd, c.data.addrWidth);
  if (isErrno(did)) return did;
  const e = ctx.step("vtd.domain_alloc") ?? ctx.step("vtd.did_alloc", "ENOSPC");
  if (e) return e;
  return [
    {
      type: "vtd.domain.allocated",
      data: { unit: unit.id, did, nestParent: false, sva: { pgd: c.data.pgd, addrWidth: c.data.addrWidth } },
    },
  ];
}

function decideMap(state: VtdState, c: Cmd<"vtd.domain.map">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const plan = checkMap(unit, c.data.did, c.data.iova, c.data.pfnRuns);
  if (isErrno(plan)) return plan;
  for (let i = 0; i < plan.tablePages; i++) {
    const e = ctx.step("vtd.pt_alloc");
    if (e) return e;
  }
  return [{ type: "vtd.domain.mapped", data: c.data }];
}

function decideQi(state: VtdState, c: Cmd<"vtd.qi.submit">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const descs = decodeDescriptors(c.data.descriptors, descriptorSize(unitFeatures(unit.config).smts));
  if (isErrno(descs)) return descs;
  const e = ctx.step("vtd.qi_submit", "EIO");
  if (e) return e;
  return qiEvents(unit, ctx.root, descs, c.data.descriptors);
}

/** `vtd.qi.executed` plus the RAM status writes of wait descriptors. */
function qiEvents(
  unit: VtdUnit,
  root: VtdRoot,
  descs: readonly Descriptor[],
  raw?: Uint8Array,
): VtdEmitted[] {
  const bytes = raw ?? encodeDescriptors(descs, descriptorSize(unitFeatures(unit.config).smts));
  const out: VtdEmitted[] = [{ type: "vtd.qi.executed", data: { unit: unit.id, descriptors: bytes } }];
  const mem = memOf(unit, root.mm?.ram);
  for (const w of statusWrites(descs)) {
    if (inTableMemory(mem, Number(w.pa))) continue;
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, w.data, true);
    out.push({ type: "mm.phys.written", data: { pa: w.pa, bytes: data } });
  }
  return out;
}

function decideUserInvalidate(
  state: VtdState,
  c: Cmd<"vtd.hwpt.invalidate">,
  ctx: Ctx,
): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const { data, entryLen, entryNum } = c.data;
  if (data.length < entryLen * entryNum) return errno("EFAULT", "entries beyond the data");
  const r = userInvalidate(unit, c.data.did, data, entryLen, entryNum);
  if (isErrno(r)) return r;
  if (r.error !== undefined && r.handled === 0) return r.error;
  const e = ctx.step("vtd.qi_submit", "EIO");
  if (e) return e;
  const events: VtdEmitted[] = r.descriptors.length > 0 ? qiEvents(unit, ctx.root, r.descriptors) : [];
  events.push({
    type: "vtd.hwpt.invalidated",
    data: {
      unit: unit.id,
      did: c.data.did,
      handled: r.handled,
      ...(r.error === undefined ? {} : { error: r.error.name }),
    },
  });
  return events;
}

function decideDma(state: VtdState, c: Cmd<"vtd.dma">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const { unit: _u, bytes, ...req } = c.data;
  if (req.write && bytes?.length !== req.length)
    return errno("EINVAL", "a write carries exactly length bytes");
  if (!req.write && bytes !== undefined) return errno("EINVAL", "a read carries no bytes");
  const bad = checkRequest(req);
  if (bad) return bad;
  return dmaEvents(unit, ctx.root, req, bytes) as VtdEmitted[];
}

function decideAttach(state: VtdState, c: Cmd<"vtd.device.attach">, ctx: Ctx): readonly VtdEmitted[] | Errno {
  const unit = unitOf(state, c.data.unit);
  if (isErrno(unit)) return unit;
  const req = { ...c.data, pasid: c.data.pasid ?? 0 };
  const frames = checkAttach(unit, req);
  if (isErrno(frames)) return frames;
  // One fallible step per table page allocated (context table, PASID directory pages, PASID table).
  for (let i = 0; i < frames; i++) {
    const e = ctx.step("vtd.pasid_table_alloc");
    if (e) return e;
  }
  const { ats, pri } = deviceCaps(unit, req);
  return [
    {
      type: "vtd.device.attached",
      data: { unit: unit.id, rid: req.rid, pasid: req.pasid, did: req.did, ats, pri },
    },
  ];
}

function decide(state: VtdState, c: VtdCommand, ctx: Ctx): readonly VtdEmitted[] | Errno {
  switch (c.type) {
    case "vtd.unit.add":
      return addUnit(state, c, ctx);
    case "vtd.domain.alloc":
      return allocDomain(state, c, ctx);
    case "vtd.domain.alloc_nested":
      return allocNestedDomain(state, c, ctx);
    case "vtd.domain.alloc_sva":
      return allocSvaDomain(state, c, ctx);
    case "vtd.domain.free": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      if (!unit.domains.has(c.data.did)) return errno("ENOENT", `no domain ${c.data.did}`);
      if (domainInUse(unit, c.data.did)) return errno("EBUSY", "domain is attached or a parent");
      return [{ type: "vtd.domain.freed", data: c.data }];
    }
    case "vtd.domain.map":
      return decideMap(state, c, ctx);
    case "vtd.domain.unmap": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const bad = checkUnmap(unit, c.data.did, c.data.iova, c.data.length);
      return bad ?? [{ type: "vtd.domain.unmapped", data: c.data }];
    }
    case "vtd.device.attach":
      return decideAttach(state, c, ctx);
    case "vtd.device.detach": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const pasid = c.data.pasid ?? 0;
      const bad = checkDetach(unit, c.data.rid, pasid);
      return bad ?? [{ type: "vtd.device.detached", data: { unit: unit.id, rid: c.data.rid, pasid } }];
    }
    case "vtd.qi.submit":
      return decideQi(state, c, ctx);
    case "vtd.hwpt.invalidate":
      return decideUserInvalidate(state, c, ctx);
    case "vtd.dma":
      return decideDma(state, c, ctx);
    case "vtd.domain.set_dirty_tracking": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const bad = checkSetDirtyTracking(unit, c.data.did);
      return bad ?? [{ type: "vtd.domain.dirty_tracking_set", data: c.data }];
    }
    case "vtd.dirty.clear": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const bad = checkUnmap(unit, c.data.did, c.data.iova, c.data.length);
      return bad ?? [{ type: "vtd.dirty.cleared", data: c.data }];
    }
    case "vtd.fault.clear": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const { index } = c.data;
      if (index !== undefined && index >= unit.faults.length)
        return errno("EINVAL", "no such fault register");
      return [
        {
          type: "vtd.fault.cleared",
          data: {
            unit: unit.id,
            ...(index === undefined ? {} : { index }),
            overflow: c.data.overflow === true,
          },
        },
      ];
    }
    case "vtd.prq.consume": {
      const unit = unitOf(state, c.data.unit);
      if (isErrno(unit)) return unit;
      const size = prqSize(unit);
      const pending = ((unit.prqTail - unit.prqHead + size) % size) / PRQ_DESC_SIZE;
      const n = Math.min(c.data.count ?? pending, pending);
      return [
        {
          type: "vtd.prq.consumed",
          data: { unit: unit.id, head: (unit.prqHead + n * PRQ_DESC_SIZE) % size },
        },
      ];
    }
  }
}

function configOf(d: Extract<VtdEvent, { type: "vtd.unit.added" }>["data"]): VtdUnitConfig {
  return {
    cap: d.cap,
    ecap: d.ecap,
    tableBase: Number(d.tableBase),
    tableFrames: d.tableFrames,
    iotlbSize: d.iotlbSize,
    contextCacheSize: d.contextCacheSize,
    pasidCacheSize: d.pasidCacheSize,
    prqFrames: d.prqFrames,
  };
}

function evolveUnit(unit: VtdUnit, e: VtdEvent): VtdUnit {
  switch (e.type) {
    case "vtd.unit.added":
      return unit;
    case "vtd.domain.allocated": {
      const d = e.data;
      if (d.identity === true) return allocIdentity(unit);
      if (d.sva !== undefined) return allocSva(unit, d.did, Number(d.sva.pgd), d.sva.addrWidth);
      if (d.parent === undefined || d.s1 === undefined)
        return allocPaging(unit, d.did, {
          nestParent: d.nestParent,
          dirtyTracking: d.dirtyTracking === true,
        });
      return allocNested(unit, d.did, d.parent, { ...d.s1, pgtblAddr: Number(d.s1.pgtblAddr) });
    }
    case "vtd.domain.freed":
      return { ...freeDomainTables(unit, e.data.did), domains: mapDelete(unit.domains, e.data.did) };
    case "vtd.domain.mapped":
      return mapDomain(unit, e.data.did, e.data.iova, e.data.pfnRuns, e.data.prot);
    case "vtd.domain.unmapped":
      return unmapDomain(unit, e.data.did, e.data.iova, e.data.length);
    case "vtd.device.attached":
      return attachDevice(unit, e.data);
    case "vtd.device.detached":
      return detachDevice(unit, e.data.rid, e.data.pasid);
    case "vtd.qi.executed":
      return executeQueue(unit, e.data.descriptors);
    case "vtd.hwpt.invalidated":
      return unit;
    case "vtd.domain.dirty_tracking_set":
      return setDirtyTracking(unit, e.data.did, e.data.enable);
    case "vtd.dirty.cleared":
      return clearDirty(unit, e.data.did, e.data.iova, e.data.length);
    case "vtd.entry.accessed":
      return { ...unit, tables: unit.tables.writeU64(Number(e.data.pa), e.data.value) };
    case "vtd.context.cached":
      return {
        ...unit,
        contextCache: unit.contextCache.set(
          e.data.rid,
          decodeContextEntry(e.data.words[0]!, e.data.words[1]!),
        ),
      };
    case "vtd.pasid.cached": {
      const [v0, v1, v2] = e.data.words;
      return {
        ...unit,
        pasidCache: unit.pasidCache.set(
          e.data.rid * 0x100000 + e.data.pasid,
          decodePasidEntry(v0!, v1!, v2!),
        ),
      };
    }
    case "vtd.iotlb.filled": {
      const d = e.data;
      return {
        ...unit,
        iotlb: unit.iotlb.fill(tlbTag(d.did, d.pasid, d.cls), d.vpn, d.sizeIdx, d.pfn, d.perm),
      };
    }
    case "vtd.fault.recorded": {
      const { unit: _u, index, ...rec } = e.data;
      if (index === undefined) return { ...unit, pfo: true };
      const faults = unit.faults.slice();
      faults[index] = rec;
      return { ...unit, faults, fri: (index + 1) % faults.length };
    }
    case "vtd.fault.cleared": {
      const faults = unit.faults.slice();
      if (e.data.index !== undefined) faults[e.data.index] = null;
      return { ...unit, faults, pfo: e.data.overflow ? false : unit.pfo };
    }
    case "vtd.prq.queued":
      return queuePageRequest(unit, e.data);
    case "vtd.prq.consumed":
      return { ...unit, prqHead: e.data.head };
  }
}

function executeQueue(unit: VtdUnit, raw: Uint8Array): VtdUnit {
  const descs = decodeDescriptors(raw, descriptorSize(unitFeatures(unit.config).smts));
  if (isErrno(descs)) return unit;
  const mem = memOf(unit, undefined);
  for (const d of descs) unit = executeDescriptor(unit, d);
  for (const w of statusWrites(descs)) {
    if (inTableMemory(mem, Number(w.pa)))
      unit = { ...unit, tables: unit.tables.writeU32(Number(w.pa), w.data) };
  }
  return unit;
}

function queuePageRequest(unit: VtdUnit, d: Extract<VtdEvent, { type: "vtd.prq.queued" }>["data"]): VtdUnit {
  if (d.overflow) return { ...unit, pro: true };
  const desc = encodePageRequest({ ...d, index: d.index });
  const tables = unit.tables.write(unit.prqBase + unit.prqTail, desc);
  const group = { rid: d.rid, ...(d.pasid === undefined ? {} : { pasid: d.pasid }), index: d.index };
  return {
    ...unit,
    tables,
    prqTail: (unit.prqTail + PRQ_DESC_SIZE) % prqSize(unit),
    pageGroups: mapSet(unit.pageGroups, d.rid * 512 + d.index, group),
  };
}

function evolve(state: VtdState, e: VtdEmitted): VtdState {
  if (e.type === "mm.phys.written") return state;
  if (e.type === "vtd.unit.added") {
    const cfg = configOf(e.data);
    return withUnit(state, newUnit(e.data.unit, cfg, capNumFaultRegs(cfg.cap)));
  }
  const unit = state.units.get(e.data.unit);
  if (unit === undefined) return state;
  return withUnit(state, evolveUnit(unit, e));
}

/**
 * The `vtd` subsystem (root key `vtd`): Intel VT-d scalable-mode units as
 * hardware, for `combine({ ..., vtd })`.
 */
export const vtd: Subsystem<VtdCommand, VtdEmitted, VtdState, VtdRoot> = {
  commands: ["vtd."],
  events: ["vtd."],
  initialState: initialVtdState,
  decide,
  evolve,
};
