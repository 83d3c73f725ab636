/**
 * The hardware panels' models (web/src/vtd.ts, smmu.ts, faults.ts,
 * pagetables.ts) on states reached through iommufd, and the table decoders
 * on hand-built tables. Golden values come from the specs' layouts:
 * VT-d 4.1 §9.2 (root entries of 16 bytes indexed by bus), §9.4 (context
 * entries of 32 bytes indexed by devfn in the lower table), §9.6 (PASID
 * entries of 64 bytes, PGTT 2 = second-stage only), §9.8 (second-stage
 * leaf: address | R | W), §9.7 (the x86-64 first-stage format), Appendix
 * A (fault reason 0x79); Arm IHI 0070 §5.2 (STE Config 0b101 = stage 1,
 * S1DSS 0b10 = SSID0) and §7.3 (F_TRANSLATION = 0x10); Arm ARM D8.3
 * (VMSAv8-64 descriptors: bit 1 table/page, AF bit 10, AP bits 7:6).
 * Output addresses are cross-checked against the process's own page
 * (iopt's mm), never against the view itself. SVA: VT-d 4.1 §9.6 (PGTT 1 =
 * first-stage only), §6.5.2.12 (page group response 0 = Success), Intel
 * SDM Vol. 3A Table 4-19 (a writable user PTE: XD | frame | 0x67); the
 * addresses, bond and frame come from the story log's own events.
 */
import { createLog, type EventLog, type Message } from "@iommu-sim/eventlog";
import { FL, flEntry } from "@iommu-sim/hw-vtd";
import { createSystemLog, type SystemState } from "@iommu-sim/iommufd";
import { userVaToPa } from "@iommu-sim/iopt";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runStory } from "../src/story/run";
import { faultsView } from "../web/src/faults";
import { childTable, lookup, type PhysRead, readTable } from "../web/src/pagetables";
import { smmuInstances } from "../web/src/smmu";
import { svaQueueView } from "../web/src/sva-faults";
import { defaultSystem } from "../web/src/system";
import { bdf, vtdUnits } from "../web/src/vtd";

const PID = 7;
const IOVA = 0x10_0000n;

type Log = EventLog<Message, Message, SystemState>;
function ok(log: Log, c: Message) {
  const r = log.dispatch(c);
  if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
  return r;
}

/** A process, a /dev/iommu context with an IOAS, `device` bound and attached, 8 KiB mapped at IOVA 0x100000. */
function attached(device: string): { log: Log; buf: bigint; did: number } {
  const log = createSystemLog();
  ok(log, { type: "mm.spawn", data: { pid: PID } });
  const m = ok(log, { type: "mm.mmap", data: { pid: PID, length: 0x2000n, prot: 3, shared: true } });
  const buf = (m.find((r) => r.type === "mm.mapped")!.data as { addr: bigint }).addr;
  const ctx = (ok(log, { type: "iommufd.open", data: { pid: PID, vfio: false } })[0]!.data as { ctx: number })
    .ctx;
  ok(log, { type: "iommufd.ioas.alloc", data: { ctx } });
  const bound = ok(log, { type: "iommufd.device.bind", data: { ctx, device } });
  const devId = (bound.find((r) => r.type === "iommufd.object.created")!.data as { id: number }).id;
  const att = ok(log, { type: "iommufd.device.attach", data: { ctx, devId, ptId: 1 } });
  const alloc = att.find((r) => r.type === "vtd.domain.allocated" || r.type === "smmu.domain.allocated");
  const kobj = log.state.iommufd.contexts[ctx]!.objects[1]!.kobj!;
  ok(log, {
    type: "ioas.map",
    data: { ioas: kobj, pid: PID, userVa: buf, length: 0x2000n, iova: IOVA, flags: 7 },
  } as Message);
  const did = (alloc?.data as { did?: number; domain?: number } | undefined) ?? {};
  return { log, buf, did: did.did ?? did.domain ?? -1 };
}

/** A physical memory of hand-written 64-bit words. */
function memory(words: [number, bigint][]): PhysRead {
  const m = new Map(words);
  return (pa) => m.get(pa) ?? 0n;
}

describe("VT-d panel model", () => {
  it("finds nic0's root, context and PASID-table entries where the spec puts them", () => {
    const { log, did } = attached("nic0");
    const [u] = vtdUnits(log.state as never)!;
    const d = u!.devices.find((x) => x.rid === 0x300)!;
    expect(bdf(0x300)).toBe("03:00.0");
    expect(d.root.pa).toBe(u!.rootTable + 3 * 16); // bus 3
    expect(d.root.entry.lowerPresent).toBe(true);
    expect(d.context!.pa).toBe(d.root.entry.lowerCtp + 0 * 32); // devfn 0
    expect(d.context!.entry).toMatchObject({ present: true, ridPasid: 0 });
    const rid = d.pasids.find((p) => p.pasid === 0)!;
    expect(rid.at!.entry).toMatchObject({ present: true, pgtt: 2, did });
    expect(rid.at!.pa % 64).toBe(0);
  });

  it("walks the domain's second-stage tree to the process's page (address | R | W)", () => {
    const { log, buf, did } = attached("nic0");
    const [u] = vtdUnits(log.state as never)!;
    const dom = u!.domains.find((x) => x.did === did)!;
    expect(dom.users).toEqual(["03:00.0 PASID 0"]);
    const pa = userVaToPa(log.state.mm, PID, buf) as number;
    let t = readTable(dom.ctx, dom.format, dom.root, dom.shift, 0n);
    while (t.shift > 12) t = childTable(dom.ctx, t, t.entries[0]!)!;
    const leaf = t.entries.find((e) => e.iova === IOVA)!;
    expect(leaf).toMatchObject({ leaf: true, addr: pa, raw: BigInt(pa) | 3n, flags: "R W", span: 0x1000n });
    expect(lookup(dom.ctx.read, "vtd-sl", dom.root, dom.shift, IOVA + 0x123n)).toBe(pa + 0x123);
    expect(lookup(dom.ctx.read, "vtd-sl", dom.root, dom.shift, IOVA + 0x2000n)).toBeUndefined();
  });
});

describe("table decoders on hand-built tables", () => {
  it("x86-64 first stage: 4 levels, a 2 MiB leaf by PS, flags by name", () => {
    // VA 0x7f12_3456_7abc: PML4 index 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167.
    const DIR = FL.P | FL.RW | FL.US;
    const read = memory([
      [0x1000 + 0xfe * 8, flEntry(2, DIR)],
      [0x2000 + 0x48 * 8, flEntry(3, DIR)],
      [0x3000 + 0x1a2 * 8, flEntry(4, DIR)],
      [0x4000 + 0x167 * 8, flEntry(0x200, DIR | FL.A | FL.D)],
      [0x3000 + 0x1a3 * 8, flEntry(0x400, DIR | FL.PS)],
    ]);
    expect(lookup(read, "vtd-fl", 0x1000, 39, 0x7f12_3456_7abcn)).toBe(0x20_0abc);
    const ctx = { read };
    let t = readTable(ctx, "vtd-fl", 0x1000, 39, 0n);
    expect(t.entries.map((e) => [e.index, e.iova, e.leaf])).toEqual([[0xfe, 0xfen << 39n, false]]);
    t = childTable(ctx, t, t.entries[0]!)!;
    t = childTable(ctx, t, t.entries[0]!)!;
    expect(t.shift).toBe(21);
    expect(t.entries.map((e) => [e.index, e.leaf, e.flags])).toEqual([
      [0x1a2, false, "P RW US"],
      [0x1a3, true, "P RW US PS"],
    ]);
    const pt = childTable(ctx, t, t.entries[0]!)!;
    expect(pt.entries[0]).toMatchObject({
      index: 0x167,
      iova: 0x7f12_3456_7000n,
      leaf: true,
      addr: 0x20_0000,
    });
    expect(pt.entries[0]!.flags).toBe("P RW US A D");
  });

  it("VMSAv8-64 stage 1: table, block and page descriptors; AF and AP", () => {
    const table = (pa: number) => BigInt(pa) | 3n;
    const read = memory([
      [0x1000, table(0x2000)], // L0[0]
      [0x2000, table(0x3000)], // L1[0]
      [0x3000 + 8, BigInt(0x4020_0000) | 1n | (1n << 10n)], // L2[1]: 2 MiB block, AF
      [0x3000, table(0x4000)], // L2[0]
      [0x4000 + 5 * 8, BigInt(0x5000) | 3n | (1n << 10n) | (2n << 6n)], // L3[5]: page, AF, AP=0b10 (RO EL1)
    ]);
    expect(lookup(read, "arm-s1", 0x1000, 39, 0x5123n)).toBe(0x5123);
    expect(lookup(read, "arm-s1", 0x1000, 39, 0x20_0010n)).toBe(0x4020_0010);
    const ctx = { read };
    const l0 = readTable(ctx, "arm-s1", 0x1000, 39, 0n);
    const l1 = childTable(ctx, l0, l0.entries[0]!)!;
    const l2 = childTable(ctx, l1, l1.entries[0]!)!;
    expect(l2.entries.map((e) => [e.index, e.leaf, e.flags])).toEqual([
      [0, false, "table"],
      [1, true, "AP=RW EL1 AF"],
    ]);
    const l3 = childTable(ctx, l2, l2.entries[0]!)!;
    expect(l3.entries[0]).toMatchObject({ index: 5, leaf: true, addr: 0x5000, flags: "AP=RO EL1 AF" });
  });
});

describe("SMMU panel model", () => {
  it("finds gpu0's STE and CD 0 and walks its stage-1 tree to the process's page", () => {
    const { log, buf } = attached("gpu0");
    const [i] = smmuInstances(log.state as never)!;
    const s = i!.streams.find((x) => x.sid === 0x8)!;
    expect(s.ste!.entry).toMatchObject({ v: true, config: 0b101, s1dss: 2 });
    const cd = s.cds.find((c) => c.ssid === 0)!;
    const dom = i!.domains.find((d) => d.users.includes("sid 0x8"))!;
    expect(dom.kind).toBe("s1");
    expect(cd.at!.entry).toMatchObject({ v: true, asid: dom.asid });
    const [tree] = dom.trees;
    expect(tree!.stage).toBe(1);
    const pa = userVaToPa(log.state.mm, PID, buf) as number;
    expect(lookup(tree!.ctx.read, tree!.format, tree!.root, tree!.shift, IOVA + 8n, tree!.topCount)).toBe(
      pa + 8,
    );
  });

  it("shows a translation fault in the event queue (F_TRANSLATION 0x10)", () => {
    const { log } = attached("gpu0");
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 0x8, iova: 0x4000_0000n, length: 4, write: false },
    });
    const [f] = faultsView(log.state as never).smmu;
    expect(f!.events.map((e) => [e.id, e.sid, e.inputAddr])).toEqual([[0x10, 0x8, 0x4000_0000n]]);
  });
});

describe("fault-queue model", () => {
  it("lists the VT-d primary fault record of a DMA to an unmapped IOVA (reason 0x79)", () => {
    const { log } = attached("nic0");
    ok(log, { type: "vtd.dma", data: { unit: 0, rid: 0x300, iova: 0x80_0000n, length: 4, write: false } });
    const [v] = faultsView(log.state as never).vtd;
    expect(
      v!.records.map((r) => [r.index, r.record.reason, r.record.rid, r.record.addr, r.record.write]),
    ).toEqual([[0, 0x79, 0x300, 0x80_0000n, false]]);
    expect(v!.requests).toEqual([]);
  });
});

describe("VT-d panel model on the demo's story: the guest's nested first stage", () => {
  it("reads the guest's table at GPA 0x70000000 through the parent's second stage, down to the remapped page", () => {
    const story = runStory();
    const [u] = vtdUnits(story.log.state as never)!;
    const nested = u!.domains.find((d) => d.kind === "nested")!;
    const parent = u!.domains.find((d) => d.did === nested.parent)!;
    expect(parent.nestParent).toBe(true);
    expect(nested).toMatchObject({ format: "vtd-fl", root: 0x7000_0000, shift: 39 });
    // Each table address is a GPA; where it is read is that GPA's page through the parent (not the GPA itself).
    let t = readTable(nested.ctx, nested.format, nested.root, nested.shift, 0n);
    expect(t.pa).toBe(lookup(parent.ctx.read, "vtd-sl", parent.root, parent.shift, 0x7000_0000n));
    expect(t.pa).not.toBe(0x7000_0000);
    // IOVA 0x7f12_3456_7000: PML4 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167 → the guest's last PTE: GPA 0x20001000.
    for (const index of [0xfe, 0x48, 0x1a2])
      t = childTable(nested.ctx, t, t.entries.find((e) => e.index === index)!)!;
    expect(t.entries.find((e) => e.index === 0x167)).toMatchObject({
      iova: 0x7f12_3456_7000n,
      leaf: true,
      addr: 0x2000_1000,
      flags: expect.stringMatching(/^P RW US/),
    });
  }, 60_000);
});

describe("fault-queue model on the demo's story (iommufd eventq.c)", () => {
  it("follows accel0's page request: pending in the fault object, read with cookie 1, answered", () => {
    const story = runStory();
    const replay = createLog(defaultSystem(), { snapshotEvery: 16 });
    replay.append(story.log.records as never);
    const seqOf = (type: string) => story.log.records.find((r) => r.type === type)!.seq;
    const objects = (seq: number) => faultsView(replay.stateAt(seq) as never).objects!;
    // The page request at PASID 1 (the process's IOAS); the earlier one at the SVA PASID goes to the SVA fault queue.
    const prq = story.log.records.find(
      (r) => r.type === "vtd.prq.queued" && (r.data as { pasid?: number }).pasid === 1,
    )!.seq;

    const [before] = objects(prq - 1);
    expect(before).toMatchObject({ pending: [], awaiting: [] });
    const [queued] = objects(prq);
    // One group, one page: PASID 1, group 0, IOMMU_PGFAULT_PERM_WRITE (2), flags PASID_VALID | LAST_PAGE |
    // RESPONSE_NEEDS_PASID (1 | 2 | 4), the page of IOVA 0x106000 — what accel0 wrote to.
    expect(queued!.pending).toEqual([
      {
        seq: 0,
        devId: expect.any(Number),
        source: "vtd 0 rid 0x10",
        pasid: 1,
        grpid: 0,
        pages: [{ addr: 0x10_6000n, perm: 2, flags: 7 }],
        cookie: undefined,
      },
    ]);
    const [read] = objects(seqOf("iommufd.fault.delivered"));
    expect(read!.pending).toEqual([]);
    expect(read!.awaiting.map((g) => [g.seq, g.cookie])).toEqual([[0, 1]]);
    const [answered] = objects(seqOf("iommufd.fault.responded"));
    expect(answered).toMatchObject({ pending: [], awaiting: [], partial: [] });
  }, 60_000);
});

describe("SVA on the demo's story: the fault queue and the process's page table (io-pgfault.c, iommu-sva.c)", () => {
  const story = runStory();
  const records = story.log.records;
  const replay = createLog(defaultSystem(), { snapshotEvery: 16 });
  replay.append(records as never);
  const event = <T>(type: string, match: (d: T) => boolean = () => true) => {
    const r = records.find((x) => x.type === type && match(x.data as T));
    if (r === undefined) throw new Error(`no ${type}`);
    return { seq: r.seq, data: r.data as T };
  };
  // What the log says happened: the bond, the pgd the bind built, the SVA page request, the page faulted in.
  const bound = event<{ bond: number; rid: number; mm: number; pasid: number }>("sva.bound");
  const pgd = event<{ pid: number; pgd: bigint }>("mm.pgd.allocated").data.pgd;
  const prq = event<{ pasid: number; addr: bigint; index: number }>(
    "vtd.prq.queued",
    (d) => d.pasid === bound.data.pasid,
  );
  const handled = event<{ group: number; grpid: number; code: number }>("sva.iopf.handled");
  const faulted = records.find((r) => r.type === "mm.faulted" && r.seq > prq.seq && r.seq < handled.seq)!
    .data as { runs: { va: bigint; pfn: number }[] };
  const sva = (seq: number) => faultsView(replay.stateAt(seq) as never).sva!;

  it("shows the SVA page request pending in its bond's queue, then gone and answered Success (0)", () => {
    expect(sva(prq.seq - 1).total).toBe(0);
    const queued = sva(prq.seq);
    expect(queued.total).toBe(1);
    expect(queued.orphans).toEqual([]);
    expect(queued.bonds).toEqual([
      {
        bond: bound.data.bond,
        rid: bound.data.rid,
        pasid: bound.data.pasid,
        pid: bound.data.mm,
        pending: [
          {
            id: handled.data.group,
            source: "vtd:0",
            rid: bound.data.rid,
            pasid: bound.data.pasid,
            grpid: prq.data.index,
            // accel0's write (PCIe page request: write, not read/exec/privileged), the page's address.
            pages: [{ addr: prq.data.addr, read: false, write: true, exec: false, privileged: false }],
            complete: true,
          },
        ],
        answered: [],
      },
    ]);
    const after = sva(handled.seq);
    expect(after.total).toBe(0);
    // VT-d 4.1 §6.5.2.12: page group response code 0 = Success.
    expect(after.bonds[0]).toMatchObject({
      pending: [],
      answered: [{ hw: "vtd", unit: 0, grpid: prq.data.index, code: 0 }],
    });
  }, 60_000);

  it("walks accel0's PASID entry (PGTT 1) into the process's page table: the PTE appears when handled", () => {
    const va = prq.data.addr;
    const leafOf = (seq: number) => {
      const [u] = vtdUnits(replay.stateAt(seq) as never)!;
      // The SVA domain walks the same table: the view names its owner, the bound process.
      expect(u!.domains.find((d) => d.kind === "sva")).toMatchObject({
        root: Number(pgd),
        pid: bound.data.mm,
      });
      const p = u!.devices
        .find((d) => d.rid === bound.data.rid)!
        .pasids.find((x) => x.pasid === bound.data.pasid)!;
      expect(p.at!.entry).toMatchObject({ present: true, pgtt: 1 });
      // FSPTPTR = the pgd the bind built; 4-level (top entries span 512 GiB); the process that owns it.
      expect(p.firstStage).toMatchObject({ root: Number(pgd), shift: 39, pid: bound.data.mm });
      const fs = p.firstStage!;
      let t = readTable(fs.ctx, "vtd-fl", fs.root, fs.shift, 0n);
      for (const shift of [39, 30, 21]) {
        const index = Number((va >> BigInt(shift)) & 0x1ffn);
        t = childTable(fs.ctx, t, t.entries.find((e) => e.index === index)!)!;
      }
      return t.entries.find((e) => e.index === Number((va >> 12n) & 0x1ffn));
    };
    expect(leafOf(prq.seq)).toBeUndefined();
    const run = faulted.runs.find((r) => r.va === va)!;
    const pa = run.pfn * 4096;
    // Intel SDM Table 4-19: XD (bit 63) | frame | D A U/S R/W P (0x67).
    expect(leafOf(handled.seq)).toMatchObject({
      iova: va,
      leaf: true,
      addr: pa,
      raw: (1n << 63n) | BigInt(pa) | 0x67n,
      flags: "P RW US A D XD",
    });
  }, 60_000);
});

describe("SVA fault-queue model against a naive grouping", () => {
  const key = fc.record({ rid: fc.integer({ min: 0, max: 3 }), pasid: fc.integer({ min: 1, max: 3 }) });
  const group = fc.record({
    at: key,
    grpid: fc.integer({ min: 0, max: 511 }),
    addrs: fc.array(fc.bigInt({ min: 0n, max: 0xfffffn }), { minLength: 1, maxLength: 3 }),
    complete: fc.boolean(),
  });
  it("puts every queued group under the bond of its device and PASID, in queue order; the rest are orphans", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { selector: (k) => `${k.rid}/${k.pasid}`, maxLength: 5 }),
        fc.array(group, { maxLength: 8 }),
        (bondKeys, gs) => {
          // An ioasid slice as ioasid/src/state.ts shapes it: bonds by handle, the queue oldest first.
          const bonds = Object.fromEntries(
            bondKeys.map((k, i) => [
              i + 1,
              { bond: i + 1, rid: k.rid, mm: 100 + i, pasid: k.pasid, refs: 1 },
            ]),
          );
          const iopf = gs.map((g, i) => ({
            id: i + 1,
            source: "vtd:0",
            rid: g.at.rid,
            pasid: g.at.pasid,
            grpid: g.grpid,
            pages: g.addrs.map((a) => ({
              addr: a << 12n,
              read: true,
              write: false,
              exec: false,
              privileged: false,
            })),
            complete: g.complete,
          }));
          const v = svaQueueView({ ioasid: { bonds, iopf } })!;
          const same = (a: { rid: number; pasid: number }, b: { rid: number; pasid: number }) =>
            a.rid === b.rid && a.pasid === b.pasid;
          expect(v.total).toBe(iopf.length);
          expect(v.bonds.map((b) => [b.bond, b.pid, b.pending.map((g) => g.id)])).toEqual(
            bondKeys.map((k, i) => [i + 1, 100 + i, iopf.filter((g) => same(g, k)).map((g) => g.id)]),
          );
          expect(v.orphans.map((g) => g.id)).toEqual(
            iopf.filter((g) => !bondKeys.some((k) => same(g, k))).map((g) => g.id),
          );
          for (const g of [...v.bonds.flatMap((b) => b.pending), ...v.orphans])
            expect(g.pages.map((p) => p.addr)).toEqual(iopf[g.id - 1]!.pages.map((p) => p.addr));
        },
      ),
    );
  });

  it("has no SVA queue without an ioasid slice that keeps one", () => {
    expect(svaQueueView({})).toBeUndefined();
    expect(svaQueueView({ ioasid: { bonds: {} } })).toBeUndefined();
  });
});
