/**
 * `evolve` of the `smmu` subsystem: applies decided events to the slice.
 * Total: an event for an unknown instance leaves the state unchanged.
 */
import { isErrno, type SmmuEvent } from "@iommu-sim/uapi";
import { atcFill } from "./atc";
import { attachDevice, detachDevice } from "./attach";
import type { RawCmd } from "./commands";
import { decodeCmd } from "./commands";
import { contextConfigOf, streamConfigOf } from "./config";
import { attachOpts } from "./decide";
import { allocDomain, allocNestedDomain, freeDomain, mapRange, unmapRange } from "./domain";
import { applyCmd } from "./exec";
import { decodePageRequest } from "./records";
import type { SmmuIdRegs } from "./regs";
import { cdKey, newInstance, type OutQueue, type SmmuInstance, type SmmuState, withInstance } from "./state";
import {
  allocate,
  cdsPerLeaf,
  cdTableOfSte,
  l2StreamTableBytes,
  streamTableLayout,
  writeCd,
  writeSte,
} from "./tables";
import { tlbFill } from "./tlb";

function update(state: SmmuState, id: number, fn: (i: SmmuInstance) => SmmuInstance): SmmuState {
  const i = state.instances.get(id);
  return i === undefined ? state : withInstance(state, fn(i));
}

function orState(next: SmmuState | { name: string }, prev: SmmuState): SmmuState {
  return isErrno(next) ? prev : (next as SmmuState);
}

/** Insert into a FIFO-bounded Map (oldest key evicted first). */
function cacheSet<V>(
  m: ReadonlyMap<number, V>,
  key: number,
  value: V,
  capacity: number,
): ReadonlyMap<number, V> {
  if (capacity === 0) return m;
  const next = new Map(m);
  next.delete(key);
  while (next.size >= capacity) next.delete(next.keys().next().value as number);
  next.set(key, value);
  return next;
}

function push(q: OutQueue, record: readonly bigint[]): OutQueue {
  return { ...q, records: [...q.records, record], prod: q.prod + 1 };
}

/** CONS moved on by `count`; with `ack`, OVACKFLG takes OVFLG's value (the overflow is acknowledged). */
function consumed(q: OutQueue, count: number, ack: boolean): OutQueue {
  return {
    ...q,
    records: q.records.slice(count),
    cons: q.cons + count,
    overflowAck: ack ? q.overflow : q.overflowAck,
  };
}

const raw = (w: readonly bigint[]): RawCmd => [w[0]!, w[1]!];

function added(state: SmmuState, d: Extract<SmmuEvent, { type: "smmu.instance.added" }>["data"]): SmmuState {
  const regs: SmmuIdRegs = { idr: d.idr as unknown as SmmuIdRegs["idr"], iidr: d.iidr, aidr: d.aidr };
  const base = Number(d.tableBase);
  const fresh = newInstance(d.instance, regs, base, base + Number(d.tableSize), {
    tlb: d.tlbEntries,
    ste: d.steCacheEntries,
    cd: d.cdCacheEntries,
  });
  const layout = streamTableLayout(fresh);
  const a = allocate(fresh, layout.bytes, 64);
  const inst = a === undefined ? fresh : a.inst;
  return withInstance(state, { ...inst, strtab: { base: Number(d.strtabBase), ...layout.regs } });
}

/** Apply one `smmu.` event. */
export function evolveSmmu(state: SmmuState, e: SmmuEvent): SmmuState {
  switch (e.type) {
    case "smmu.instance.added":
      return added(state, e.data);
    case "smmu.mem.allocated":
      return update(state, e.data.instance, (i) => allocate(i, e.data.bytes)?.inst ?? i);
    case "smmu.mem.written":
      return update(state, e.data.instance, (i) => ({
        ...i,
        mem: i.mem.write(Number(e.data.pa), e.data.bytes),
      }));
    case "smmu.ste.written":
      return update(state, e.data.instance, (i) => {
        const l2 = e.data.l2 === undefined ? undefined : allocate(i, l2StreamTableBytes(i), 64);
        return writeSte(l2?.inst ?? i, e.data.sid, e.data.ste, l2?.pa);
      });
    case "smmu.cd.written":
      return update(state, e.data.instance, (i) => {
        const table = cdTableOfSte(i, e.data.sid);
        if (table === undefined) return i;
        const l2 = e.data.l2 === undefined ? undefined : allocate(i, cdsPerLeaf(table.s1fmt) * 64);
        return writeCd(l2?.inst ?? i, table, e.data.ssid, e.data.cd, l2?.pa);
      });
    case "smmu.cmd.consumed":
      return update(state, e.data.instance, (i) => {
        const c = decodeCmd(i.features, raw(e.data.cmd));
        const next = c === undefined ? i : applyCmd(i, c);
        return { ...next, cmdq: { ...next.cmdq, cons: next.cmdq.cons + 1 } };
      });
    case "smmu.cmdq.errored":
      return update(state, e.data.instance, (i) => ({
        ...i,
        cmdq: { ...i.cmdq, error: e.data.cerror, pending: e.data.pending.map(raw) },
      }));
    case "smmu.cmdq.held":
      return update(state, e.data.instance, (i) => ({
        ...i,
        cmdq: { ...i.cmdq, pending: [...i.cmdq.pending, ...e.data.cmds.map(raw)] },
      }));
    case "smmu.cmdq.errorSkipped":
      return update(state, e.data.instance, (i) => ({
        ...i,
        cmdq: { cons: i.cmdq.cons + 1, error: 0, pending: [] },
      }));
    case "smmu.ste.filled":
      return update(state, e.data.instance, (i) => {
        const cfg = streamConfigOf(i.features, e.data.ste);
        return cfg === undefined
          ? i
          : { ...i, steCache: cacheSet(i.steCache, e.data.sid, cfg, i.cacheSizes.ste) };
      });
    case "smmu.cd.filled":
      return update(state, e.data.instance, (i) => {
        const cfg = contextConfigOf(i.features, e.data.cd);
        const key = cdKey(e.data.sid, e.data.ssid);
        return cfg === undefined ? i : { ...i, cdCache: cacheSet(i.cdCache, key, cfg, i.cacheSizes.cd) };
      });
    case "smmu.tlb.filled":
      return update(state, e.data.instance, (i) => ({
        ...i,
        tlb: tlbFill(i.tlb, {
          tag: e.data.tag,
          base: Number(e.data.base),
          log2size: e.data.log2size,
          pa: Number(e.data.pa),
          ipa: Number(e.data.ipa),
          s1perm: e.data.s1perm,
          s2perm: e.data.s2perm,
        }),
      }));
    case "smmu.atc.filled":
      return update(state, e.data.instance, (i) => {
        const d = e.data;
        const entry = {
          ssid: d.ssid ?? -1,
          base: Number(d.base),
          log2size: d.log2size,
          pa: Number(d.pa),
          perm: d.perm,
        };
        const atc = new Map(i.atc);
        atc.set(d.sid, atcFill(i.atc.get(d.sid), entry));
        return { ...i, atc };
      });
    case "smmu.event.queued":
      return update(state, e.data.instance, (i) => ({ ...i, evtq: push(i.evtq, e.data.record) }));
    case "smmu.evtq.overflowed":
      return update(state, e.data.instance, (i) => ({
        ...i,
        evtq: { ...i.evtq, overflow: !i.evtq.overflow },
      }));
    case "smmu.pri.queued":
      return update(state, e.data.instance, (i) => {
        const p = decodePageRequest(e.data.record);
        const prg = { sid: p.sid, ...(p.ssid === undefined ? {} : { ssid: p.ssid }), grpid: p.grpid };
        return {
          ...i,
          priq: push(i.priq, e.data.record),
          prgs: [...i.prgs, prg],
          nextPrg: (p.grpid + 1) % 512,
        };
      });
    case "smmu.priq.overflowed":
      return update(state, e.data.instance, (i) => ({
        ...i,
        priq: { ...i.priq, overflow: !i.priq.overflow },
      }));
    case "smmu.evtq.consumed":
      return update(state, e.data.instance, (i) => ({
        ...i,
        evtq: consumed(i.evtq, e.data.count, e.data.ackOverflow === true),
      }));
    case "smmu.priq.consumed":
      return update(state, e.data.instance, (i) => ({
        ...i,
        priq: consumed(i.priq, e.data.count, e.data.ackOverflow === true),
      }));
    case "smmu.pri.autoResponded":
      return update(state, e.data.instance, (i) => {
        const d = e.data;
        const resp = {
          sid: d.sid,
          ...(d.ssid === undefined ? {} : { ssid: d.ssid }),
          grpid: d.grpid,
          resp: d.resp,
          auto: true,
        };
        return { ...i, priResponses: [...i.priResponses, resp], nextPrg: (d.grpid + 1) % 512 };
      });
    case "smmu.domain.allocated":
      return orState(allocDomain(state, e.data.instance, e.data.kind), state);
    case "smmu.domain.nestedAllocated": {
      const d = e.data;
      return orState(allocNestedDomain(state, d.instance, d.parent, [d.ste[0]!, d.ste[1]!], d.flags), state);
    }
    case "smmu.domain.mapped": {
      const d = e.data;
      return orState(mapRange(state, d.instance, d.domain, d.iova, d.pfnRuns, d.prot), state);
    }
    case "smmu.domain.unmapped": {
      const d = e.data;
      return orState(unmapRange(state, d.instance, d.domain, d.iova, d.length), state);
    }
    case "smmu.domain.detached": {
      const d = e.data;
      return orState(detachDevice(state, d.instance, d.sid, d.ssid), state);
    }
    case "smmu.domain.freed":
      return orState(freeDomain(state, e.data.instance, e.data.domain), state);
    case "smmu.domain.attached": {
      const d = e.data;
      return orState(attachDevice(state, d.instance, d.domain, d.sid, attachOpts(d)), state);
    }
  }
}
