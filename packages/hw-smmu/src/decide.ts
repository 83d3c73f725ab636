/**
 * `decide` of the `smmu` subsystem: every check and every fallible step;
 * the events carry what `evolve` needs (decide chooses addresses, evolve
 * recomputes them from the same allocator and gets the same answer).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno, type SmmuCommand, type SmmuEvent } from "@iommu-sim/uapi";
import { checkAttach } from "./attach";
import { CERROR, decodeCmd, PRI_RESP, type RawCmd } from "./commands";
import { allocDomain, allocNestedDomain, checkFreeDomain, planMap, planUnmap } from "./domain";
import { encodeEvent, encodePageRequest } from "./records";
import { decodeFeatures, defaultIdRegs, type SmmuIdRegs } from "./regs";
import type { SmmuInstance, SmmuState } from "./state";
import { newInstance } from "./state";
import {
  allocate,
  cdNeedsL2,
  cdsPerLeaf,
  cdTableOfSte,
  l2StreamTableBytes,
  steNeedsL2,
  streamTableLayout,
} from "./tables";
import { MODEL_ADDRESS_LIMIT, translate } from "./translate";
import type { Fill, SmmuRoot } from "./translator";

/** `mm.phys.written` (owned by the `mm` subsystem): a DMA store into RAM. */
export interface PhysWritten {
  readonly type: "mm.phys.written";
  readonly data: { readonly pa: bigint; readonly bytes: Uint8Array };
}

/** Every event `smmu` decides. */
export type SmmuOutEvent = SmmuEvent | PhysWritten;

type Ctx = SubsystemDecideContext<SmmuRoot>;
type Result = readonly SmmuOutEvent[] | Errno;
type Cmd<T extends SmmuCommand["type"]> = Extract<SmmuCommand, { type: T }>["data"];

/** Defaults: TLB 512 entries, 64 STEs, 256 CDs. */
export const DEFAULT_CACHE_SIZES = { tlb: 512, ste: 64, cd: 256 } as const;

/** The instance, or ENODEV. */
function inst(state: SmmuState, id: number): SmmuInstance | Errno {
  return state.instances.get(id) ?? errno("ENODEV", `no SMMU instance ${id}`);
}

/**
 * Probe an SMMU and set up its stream table (arm_smmu_device_probe, arm_smmu_init_strtab).
 * Errors: EEXIST (instance id taken), EINVAL (table region not whole frames below 2^52, or ID
 * registers without a usable stage/granule, SIDSIZE > 32, SSIDSIZE > 20), ENOMEM (region too small).
 */
function addInstance(state: SmmuState, c: Cmd<"smmu.instance.add">, ctx: Ctx): Result {
  if (state.instances.has(c.instance)) return errno("EEXIST", `SMMU instance ${c.instance} exists`);
  const base = c.tableBase;
  const size = c.tableSize;
  if (base % 4096n !== 0n || size % 4096n !== 0n || size === 0n || base + size > 2n ** 52n)
    return errno("EINVAL", "table memory must be whole 4 KiB frames below 2^52");
  const d = defaultIdRegs();
  const regs: SmmuIdRegs = {
    idr: (c.idr as SmmuIdRegs["idr"] | undefined) ?? d.idr,
    iidr: c.iidr ?? d.iidr,
    aidr: c.aidr ?? d.aidr,
  };
  const f = decodeFeatures(regs);
  if (f.sidBits > 32 || f.ssidBits > 20 || (!f.s1 && !f.s2) || !(f.gran4k || f.gran16k || f.gran64k))
    return errno("EINVAL", "ID registers describe no usable SMMU");
  const sizes = {
    tlb: c.tlbEntries ?? DEFAULT_CACHE_SIZES.tlb,
    ste: c.steCacheEntries ?? DEFAULT_CACHE_SIZES.ste,
    cd: c.cdCacheEntries ?? DEFAULT_CACHE_SIZES.cd,
  };
  const fresh = newInstance(c.instance, regs, Number(base), Number(base + size), sizes);
  const e = ctx.step("smmu.strtab_alloc", "ENOMEM");
  if (e) return e;
  const a = allocate(fresh, streamTableLayout(fresh).bytes, 64);
  if (a === undefined) return errno("ENOMEM", "table memory too small for the stream table");
  return [
    {
      type: "smmu.instance.added",
      data: {
        instance: c.instance,
        tableBase: base,
        tableSize: size,
        idr: [...regs.idr],
        iidr: regs.iidr,
        aidr: regs.aidr,
        tlbEntries: sizes.tlb,
        steCacheEntries: sizes.ste,
        cdCacheEntries: sizes.cd,
        strtabBase: BigInt(a.pa),
      },
    },
  ];
}

/** Allocate table memory (dmam_alloc_coherent). Errors: ENODEV, EINVAL (0 bytes), ENOMEM. */
function memAlloc(state: SmmuState, c: Cmd<"smmu.mem.alloc">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (c.bytes === 0) return errno("EINVAL", "zero-byte allocation");
  const e = ctx.step("smmu.mem_alloc", "ENOMEM");
  if (e) return e;
  const a = allocate(i, c.bytes);
  if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted");
  return [{ type: "smmu.mem.allocated", data: { instance: c.instance, pa: BigInt(a.pa), bytes: c.bytes } }];
}

/** A driver store into table memory. Errors: ENODEV, EFAULT (outside the region). */
function memWrite(state: SmmuState, c: Cmd<"smmu.mem.write">): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (c.pa < BigInt(i.tableBase) || c.pa + BigInt(c.bytes.length) > BigInt(i.tableEnd))
    return errno("EFAULT", "write outside the SMMU's table memory");
  return [{ type: "smmu.mem.written", data: { instance: c.instance, pa: c.pa, bytes: c.bytes } }];
}

/**
 * Write an STE (arm_smmu_write_ste), creating its level-2 stream table when the L1STD is
 * invalid (arm_smmu_init_l2_strtab). Errors: ENODEV, EINVAL (StreamID beyond the table), ENOMEM.
 */
function steWrite(state: SmmuState, c: Cmd<"smmu.ste.write">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (c.sid >= 2 ** Math.min(i.strtab.log2size, i.features.sidBits))
    return errno("EINVAL", `StreamID ${c.sid} beyond the stream table`);
  let l2: bigint | undefined;
  if (steNeedsL2(i, c.sid)) {
    const e = ctx.step("smmu.l2_strtab_alloc", "ENOMEM");
    if (e) return e;
    const a = allocate(i, l2StreamTableBytes(i), 64);
    if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted (L2 stream table)");
    l2 = BigInt(a.pa);
  }
  return [
    {
      type: "smmu.ste.written",
      data: { instance: c.instance, sid: c.sid, ste: c.ste, ...(l2 === undefined ? {} : { l2 }) },
    },
  ];
}

/**
 * Write a CD into the host-owned CD table `sid`'s STE points at (arm_smmu_write_cd_entry),
 * creating the leaf table when the L1CD is invalid (arm_smmu_get_cd_ptr). Errors: ENODEV,
 * EINVAL (no stage-1 STE with a CD table in table memory, SSID beyond S1CDMax), ENOMEM.
 */
function cdWrite(state: SmmuState, c: Cmd<"smmu.cd.write">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  const table = cdTableOfSte(i, c.sid);
  if (table === undefined) return errno("EINVAL", `StreamID ${c.sid} has no host CD table`);
  if (c.ssid >= 2 ** table.s1cdmax) return errno("EINVAL", `SSID ${c.ssid} beyond S1CDMax`);
  let l2: bigint | undefined;
  if (cdNeedsL2(i, table, c.ssid)) {
    const e = ctx.step("smmu.l2_cdtab_alloc", "ENOMEM");
    if (e) return e;
    const a = allocate(i, cdsPerLeaf(table.s1fmt) * 64);
    if (a === undefined) return errno("ENOMEM", "SMMU table memory exhausted (CD leaf)");
    l2 = BigInt(a.pa);
  }
  return [
    {
      type: "smmu.cd.written",
      data: { instance: c.instance, sid: c.sid, ssid: c.ssid, cd: c.cd, ...(l2 === undefined ? {} : { l2 }) },
    },
  ];
}

/**
 * Consume `cmds` in order (IHI 0070 §4.1): each well-formed one becomes
 * `smmu.cmd.consumed` (a CMD_SYNC with CS = SIG_IRQ and an MSIAddr also
 * writes MSIData there); the first malformed one halts the queue with
 * CERROR_ILL, itself and the rest staying pending.
 */
function consume(i: SmmuInstance, cmds: readonly RawCmd[]): SmmuOutEvent[] {
  const out: SmmuOutEvent[] = [];
  for (let k = 0; k < cmds.length; k++) {
    const raw = cmds[k]!;
    const c = decodeCmd(i.features, raw);
    if (c === undefined) {
      out.push({
        type: "smmu.cmdq.errored",
        data: { instance: i.id, cerror: CERROR.ILL, pending: cmds.slice(k).map((x) => [x[0], x[1]]) },
      });
      break;
    }
    out.push({ type: "smmu.cmd.consumed", data: { instance: i.id, cmd: [raw[0], raw[1]] } });
    if (c.op === "sync" && c.cs === 1 && c.msiAddr !== 0n) {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, c.msiData, true);
      out.push({ type: "mm.phys.written", data: { pa: c.msiAddr, bytes } });
    }
  }
  return out;
}

/** Commands written to the queue: consumed in order, or held while the queue is halted. Errors: ENODEV. */
function submit(state: SmmuState, c: Cmd<"smmu.cmdq.submit">): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  const cmds = c.cmds.map((w) => [w[0]!, w[1]!] as const);
  if (i.cmdq.error !== CERROR.NONE)
    return [{ type: "smmu.cmdq.held", data: { instance: c.instance, cmds: cmds.map((x) => [x[0], x[1]]) } }];
  return consume(i, cmds);
}

/**
 * The driver's CMDQ_ERR handling (arm_smmu_cmdq_skip_err): the bad command is replaced by
 * CMD_SYNC, GERROR acknowledged, and the held commands consumed. Errors: ENODEV, EINVAL (no error).
 */
function skipError(state: SmmuState, c: Cmd<"smmu.cmdq.skipError">): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (i.cmdq.error === CERROR.NONE) return errno("EINVAL", "the command queue is not in error");
  return [
    { type: "smmu.cmdq.errorSkipped", data: { instance: c.instance } },
    ...consume(i, i.cmdq.pending.slice(1)),
  ];
}

/** Software moves EVTQ_CONS / PRIQ_CONS. Errors: ENODEV, EINVAL (more than pending). */
function queueConsume(state: SmmuState, c: Cmd<"smmu.evtq.consume">, which: "evtq" | "priq"): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (c.count > i[which].records.length)
    return errno("EINVAL", `only ${i[which].records.length} records pending`);
  return [{ type: which === "evtq" ? "smmu.evtq.consumed" : "smmu.priq.consumed", data: c }];
}

/** The `smmu.*.filled` event of a cache fill. */
function fillEvent(instance: number, f: Fill): SmmuOutEvent {
  if (f.kind === "ste") return { type: "smmu.ste.filled", data: { instance, sid: f.sid, ste: [...f.words] } };
  if (f.kind === "cd")
    return { type: "smmu.cd.filled", data: { instance, sid: f.sid, ssid: f.ssid, cd: [...f.words] } };
  if (f.kind === "atc") {
    const a = f.entry;
    return {
      type: "smmu.atc.filled",
      data: {
        instance,
        sid: f.sid,
        ...(a.ssid < 0 ? {} : { ssid: a.ssid }),
        base: BigInt(a.base),
        log2size: a.log2size,
        pa: BigInt(a.pa),
        perm: a.perm,
      },
    };
  }
  const e = f.entry;
  return {
    type: "smmu.tlb.filled",
    data: {
      instance,
      tag: e.tag,
      base: BigInt(e.base),
      log2size: e.log2size,
      pa: BigInt(e.pa),
      ipa: BigInt(e.ipa),
      s1perm: e.s1perm,
      s2perm: e.s2perm,
    },
  };
}

/** Whether a queue's overflow condition is active: OVFLG ≠ OVACKFLG (IHI 0070 §7.4, §8.1). */
function overflowActive(q: { overflow: boolean; overflowAck: boolean }): boolean {
  return q.overflow !== q.overflowAck;
}

/**
 * A page request meeting a full PRI queue or an active overflow (IHI 0070
 * §8.1): it is discarded, OVFLG toggles if no overflow was active, and —
 * being the Last request of its group — the SMMU answers it itself with
 * Success, carrying the PASID when SMMU_IDR3.PPS or the STE's PPAR says so.
 */
function priOverflow(i: SmmuInstance, c: Cmd<"smmu.dma">, ppar: boolean): SmmuOutEvent[] {
  const out: SmmuOutEvent[] = [];
  if (!overflowActive(i.priq)) out.push({ type: "smmu.priq.overflowed", data: { instance: c.instance } });
  const withPasid = c.ssid !== undefined && (i.features.pps || ppar);
  out.push({
    type: "smmu.pri.autoResponded",
    data: {
      instance: c.instance,
      sid: c.sid,
      ...(withPasid ? { ssid: c.ssid! } : {}),
      grpid: i.nextPrg,
      resp: PRI_RESP.SUCC,
    },
  });
  return out;
}

/** Whether an output queue holds 2^log2size records already. */
function queueFull(q: { records: readonly unknown[]; log2size: number }): boolean {
  return q.records.length >= 2 ** q.log2size;
}

/**
 * A device transaction (IHI 0070 §3): fills (STE, CD, TLB, the device's
 * ATC), then the RAM stores of a write, or the fault: a PRI page request
 * (ATS + PRI), an event record (when recorded), or nothing (STE abort; ATS
 * translation faults without PRI come back to the device unrecorded).
 */
function dma(state: SmmuState, c: Cmd<"smmu.dma">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (c.length === 0) return errno("EINVAL", "zero-length DMA");
  if (c.iova + BigInt(c.length) > MODEL_ADDRESS_LIMIT)
    return errno("EINVAL", "input addresses at or above 2^52 are outside the modelled address space");
  if (c.write !== (c.bytes !== undefined) || (c.bytes !== undefined && c.bytes.length !== c.length))
    return errno("EINVAL", "a write carries exactly `length` bytes; a read none");
  const r = translate(ctx.root, c.instance, {
    sid: c.sid,
    iova: c.iova,
    length: c.length,
    write: c.write,
    ...(c.ssid === undefined ? {} : { ssid: c.ssid }),
    ...(c.privileged === undefined ? {} : { privileged: c.privileged }),
    ...(c.ats === undefined ? {} : { ats: c.ats }),
    ...(c.pri === undefined ? {} : { pri: c.pri }),
  });
  if (r === undefined) return errno("ENODEV", `no SMMU instance ${c.instance}`);
  const out: SmmuOutEvent[] = r.fills.map((f) => fillEvent(c.instance, f));
  if (r.ok) {
    let off = 0;
    for (const run of r.runs) {
      if (c.bytes !== undefined)
        out.push({
          type: "mm.phys.written",
          data: { pa: BigInt(run.pa), bytes: c.bytes.slice(off, off + run.length) },
        });
      off += run.length;
    }
    return out;
  }
  if (r.fault === undefined) return out;
  if (r.pageRequest) {
    if (overflowActive(i.priq) || queueFull(i.priq)) return [...out, ...priOverflow(i, c, r.ppar)];
    const record = encodePageRequest({
      sid: c.sid,
      ...(c.ssid === undefined ? {} : { ssid: c.ssid }),
      priv: c.privileged === true,
      exec: false,
      read: !c.write,
      write: c.write,
      last: true,
      grpid: i.nextPrg,
      addr: r.at & ~0xfffn,
    });
    return [...out, { type: "smmu.pri.queued", data: { instance: c.instance, record } }];
  }
  if (!r.recorded) return out;
  // A full event queue loses the record; OVFLG toggles unless an overflow is already active (§7.4).
  if (queueFull(i.evtq))
    return overflowActive(i.evtq)
      ? out
      : [...out, { type: "smmu.evtq.overflowed", data: { instance: c.instance } }];
  return [
    ...out,
    { type: "smmu.event.queued", data: { instance: c.instance, record: encodeEvent(r.fault) } },
  ];
}

/** `allocDomain` as a command (steps: the domain, its level-0 table). Errors: see allocDomain. */
function domainAlloc(state: SmmuState, c: Cmd<"smmu.domain.alloc">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  const e = ctx.step("smmu.domain_alloc", "ENOMEM") ?? ctx.step("smmu.pgd_alloc", "ENOMEM");
  if (e) return e;
  const r = allocDomain(state, c.instance, c.kind);
  if (isErrno(r)) return r;
  return [
    { type: "smmu.domain.allocated", data: { instance: c.instance, domain: i.nextDomain, kind: c.kind } },
  ];
}

/** `allocNestedDomain` as a command (step: the domain). Errors: see allocNestedDomain. */
function nestedAlloc(state: SmmuState, c: Cmd<"smmu.domain.allocNested">, ctx: Ctx): Result {
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  const vste = [c.ste[0]!, c.ste[1]!] as const;
  const r = allocNestedDomain(state, c.instance, c.parent, vste, c.flags ?? 0);
  if (isErrno(r)) return r;
  const e = ctx.step("smmu.nested_domain_alloc", "ENOMEM");
  if (e) return e;
  // The event carries the guest's STE as given: evolve re-runs
  // allocNestedDomain on it, which derives both the stored STE (EATS
  // cleared) and enableAts from the guest's EATS — the stored copy would
  // lose that.
  return [
    {
      type: "smmu.domain.nestedAllocated",
      data: {
        instance: c.instance,
        domain: i.nextDomain,
        parent: c.parent,
        ste: [...vste],
        flags: c.flags ?? 0,
      },
    },
  ];
}

/** `mapRange` as a command: one fallible step per page-table page it allocates. Errors: see mapRange. */
function domainMap(state: SmmuState, c: Cmd<"smmu.domain.map">, ctx: Ctx): Result {
  const plan = planMap(state, c.instance, c.domain, c.iova, c.pfnRuns, c.prot);
  if (isErrno(plan)) return plan;
  for (let k = 0; k < plan.tables; k++) {
    const e = ctx.step("smmu.pgtable_alloc", "ENOMEM");
    if (e) return e;
  }
  return [{ type: "smmu.domain.mapped", data: c }];
}

/** `unmapRange` as a command: one fallible step per block-split table. Errors: see unmapRange. */
function domainUnmap(state: SmmuState, c: Cmd<"smmu.domain.unmap">, ctx: Ctx): Result {
  const plan = planUnmap(state, c.instance, c.domain, c.iova, c.length);
  if (isErrno(plan)) return plan;
  for (let k = 0; k < plan.tables; k++) {
    const e = ctx.step("smmu.split_blk_alloc", "ENOMEM");
    if (e) return e;
  }
  const invalidations = plan.invalidations.map((x) => [x[0], x[1]]);
  return [{ type: "smmu.domain.unmapped", data: { ...c, invalidations } }];
}

/** `attachDevice` as a command: one fallible step per table it allocates. Errors: see attachDevice. */
function domainAttach(state: SmmuState, c: Cmd<"smmu.domain.attach">, ctx: Ctx): Result {
  const plan = checkAttach(state, c.instance, c.domain, c.sid, attachOpts(c));
  if (isErrno(plan)) return plan;
  for (const site of plan.sites) {
    const e = ctx.step(site, "ENOMEM");
    if (e) return e;
  }
  return [{ type: "smmu.domain.attached", data: c }];
}

/** `detachDevice` as a command (no allocation; its checks only). Errors: see detachDevice. */
function domainDetach(state: SmmuState, c: Cmd<"smmu.domain.detach">): Result {
  // The same checks as detachDevice, which writes table memory and so runs only in evolve.
  const i = inst(state, c.instance);
  if (isErrno(i)) return i;
  if (!(c.sid < 2 ** i.features.sidBits)) return errno("EINVAL", `StreamID ${c.sid} beyond IDR1.SIDSIZE`);
  const table = i.cdTables.get(c.sid);
  if (c.ssid !== undefined && (table === undefined || c.ssid < 1 || c.ssid >= 2 ** table.s1cdmax))
    return errno("EINVAL", `PASID ${c.ssid} is not attachable on StreamID ${c.sid}`);
  return [{ type: "smmu.domain.detached", data: c }];
}

/** `freeDomain` as a command (its checks only: the tables are freed in evolve). Errors: see checkFreeDomain. */
function domainFree(state: SmmuState, c: Cmd<"smmu.domain.free">): Result {
  const r = checkFreeDomain(state, c.instance, c.domain);
  return isErrno(r) ? r : [{ type: "smmu.domain.freed", data: c }];
}

/** The `AttachOptions` of an attach command/event. */
export function attachOpts(c: { ssid?: number; ats?: boolean; ssidBits?: number }) {
  return {
    ...(c.ssid === undefined ? {} : { ssid: c.ssid }),
    ...(c.ats === undefined ? {} : { ats: c.ats }),
    ...(c.ssidBits === undefined ? {} : { ssidBits: c.ssidBits }),
  };
}

/** Decide one `smmu.` command. */
export function decideSmmu(state: SmmuState, c: SmmuCommand, ctx: Ctx): Result {
  switch (c.type) {
    case "smmu.instance.add":
      return addInstance(state, c.data, ctx);
    case "smmu.mem.alloc":
      return memAlloc(state, c.data, ctx);
    case "smmu.mem.write":
      return memWrite(state, c.data);
    case "smmu.ste.write":
      return steWrite(state, c.data, ctx);
    case "smmu.cd.write":
      return cdWrite(state, c.data, ctx);
    case "smmu.cmdq.submit":
      return submit(state, c.data);
    case "smmu.cmdq.skipError":
      return skipError(state, c.data);
    case "smmu.evtq.consume":
      return queueConsume(state, c.data, "evtq");
    case "smmu.priq.consume":
      return queueConsume(state, c.data, "priq");
    case "smmu.dma":
      return dma(state, c.data, ctx);
    case "smmu.domain.alloc":
      return domainAlloc(state, c.data, ctx);
    case "smmu.domain.allocNested":
      return nestedAlloc(state, c.data, ctx);
    case "smmu.domain.map":
      return domainMap(state, c.data, ctx);
    case "smmu.domain.unmap":
      return domainUnmap(state, c.data, ctx);
    case "smmu.domain.attach":
      return domainAttach(state, c.data, ctx);
    case "smmu.domain.detach":
      return domainDetach(state, c.data);
    case "smmu.domain.free":
      return domainFree(state, c.data);
  }
}
