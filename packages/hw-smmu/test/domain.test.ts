/**
 * The driver functions: paging domains, map/unmap with Linux's descriptors
 * and invalidations, attach (RID and PASID), nested domains from guest STEs
 * with arm_smmu_validate_vste's errno, and fail-nth sweeps over every
 * command with fallible steps. A property test checks map/unmap against a
 * naive model (a Map from IOVA page to PA page).
 */
import { specify, sweepFailNth } from "@iommu-sim/eventlog";
import { isErrno, type SmmuCommand } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cmd, encodeCd, encodeSte, IOMMU_READ, IOMMU_WRITE, STE_CFG, translate } from "../src/index";
import {
  decider,
  evtq,
  inst0,
  type Log,
  ok,
  ram64,
  ramWords,
  TABLE_BASE,
  TABLE_SIZE,
  withSmmu,
} from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;

function domain(log: Log, kind: "s1" | "s2"): number {
  const ev = ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind } });
  return (ev[0]!.data as { domain: number }).domain;
}

function map(log: Log, d: number, iova: bigint, pfn: number, count: number, prot = RW) {
  return ok(log, {
    type: "smmu.domain.map",
    data: { instance: 0, domain: d, iova, pfnRuns: [{ pfn, count }], prot },
  });
}

function attach(log: Log, d: number, sid: number, extra: { ssid?: number; ats?: boolean } = {}) {
  return ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: d, sid, ...extra } });
}

function paOf(log: Log, sid: number, iova: bigint, ssid?: number): number | undefined {
  const r = translate(log.state, 0, {
    sid,
    iova,
    length: 1,
    write: false,
    ...(ssid === undefined ? {} : { ssid }),
  });
  return r?.ok === true ? r.runs[0]!.pa : undefined;
}

/** The leaf descriptor for `iova` read from table memory (4 levels from the domain's TTB). */
function leaf(log: Log, ttb: number, iova: number): bigint {
  const mem = inst0(log).mem;
  let table = ttb;
  for (const shift of [39, 30, 21, 12]) {
    const d = mem.readU64(table + (Math.floor(iova / 2 ** shift) % 512) * 8);
    if (shift === 12 || (d & 3n) !== 3n) return d;
    table = Number(d & 0xffff_ffff_f000n);
  }
  return 0n;
}

describe("stage-1 paging domain", () => {
  it("maps with Linux's descriptors, attaches a StreamID and moves bytes", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    map(log, d, 0x20_0000n, 0x4_0000, 512 + 1); // 2 MiB aligned IOVA and PA: one block, then one page
    const ttb = inst0(log).domains.get(d)!.ttb;
    // io-pgtable-arm (stage 1, READ|WRITE): nG 1<<11 | AF 1<<10 | SH inner 3<<8 | AP[1] 1<<6 | AttrIndx 1<<2
    expect(leaf(log, ttb, 0x20_0000)).toBe(0x4000_0000n | 0xf45n); // block (0b01)
    expect(leaf(log, ttb, 0x40_0000)).toBe(0x4020_0000n | 0xf47n); // page (0b11)
    attach(log, d, 0x18);
    ok(log, {
      type: "smmu.dma",
      data: {
        instance: 0,
        sid: 0x18,
        iova: 0x3f_fffen,
        length: 4,
        write: true,
        bytes: new Uint8Array([1, 2, 3, 4]),
      },
    });
    expect([...log.state.mm.ram.read(0x401f_fffe, 4)]).toEqual([1, 2, 3, 4]);
  });

  it("writes the STE and CD Linux writes (arm_smmu_make_cdtable_ste / make_s1_cd)", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    attach(log, d, 0x18);
    const i = inst0(log);
    const table = i.cdTables.get(0x18)!;
    // SSIDSIZE 20 > 10 with CD2L: 2-level, 64 KiB leaves (S1Fmt 2), S1CDMax 20
    expect(table).toMatchObject({ s1fmt: 2, s1cdmax: 20 });
    const l1 = i.mem.readU64(i.strtab.base + 0 * 8);
    const ste = Number(l1 & 0xffff_ffff_ffc0n) + 0x18 * 64;
    // V | Config 0b101 | S1Fmt 2 << 4 | S1ContextPtr | S1CDMax 20 << 59
    expect(i.mem.readU64(ste)).toBe(0xa000_0000_0000_002bn | BigInt(table.base));
    // S1DSS SSID0 (2) | S1CIR WBRA 1<<2 | S1COR WBRA 1<<4 | S1CSH ISH 3<<6
    expect(i.mem.readU64(ste + 8)).toBe(0xd6n);
    const cdLeaf = Number(i.mem.readU64(table.base) & 0xffff_ffff_f000n);
    // T0SZ 16 | IRGN0/ORGN0 WBWA | SH0 ISH | EPD1 | V ; IPS 48 bits (5) | AA64 | R | A | ASET ; ASID 1
    expect(i.mem.readU64(cdLeaf)).toBe(0x0001_e205_c000_3510n);
    expect(i.mem.readU64(cdLeaf + 8)).toBe(BigInt(i.domains.get(d)!.ttb));
    expect(i.mem.readU64(cdLeaf + 24)).toBe(0xf404ff44n);
  });

  it("unmaps with TLBI (range form with IDR3.RIL) + ATC_INV for ATS streams + SYNC, and the page faults after", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    map(log, d, 0x1000n, 0x5_0000, 4);
    attach(log, d, 0x18, { ats: true });
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 0x18, iova: 0x1000n, length: 1, write: false } });
    const ev = ok(log, {
      type: "smmu.domain.unmap",
      data: { instance: 0, domain: d, iova: 0x1000n, length: 0x1000n },
    });
    expect((ev[0]!.data as { invalidations: bigint[][] }).invalidations).toEqual([
      // TLBI_NH_VA ASID 1, NUM 0 SCALE 0 (1 page); Leaf | TG 4 KiB (1) << 10 | address
      [0x0001_0000_0000_0012n, 0x1401n],
      // ATC_INV SID 0x18, Size 0, address 0x1000
      [0x0000_0018_0000_0040n, 0x1000n],
      [0x46n, 0n],
    ]);
    expect(paOf(log, 0x18, 0x1000n)).toBeUndefined();
    expect(paOf(log, 0x18, 0x2000n)).toBe(0x5000_1000);
  });

  it("splits a block when unmapping part of it", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    map(log, d, 0x20_0000n, 0x8_0000, 512);
    attach(log, d, 1);
    ok(log, {
      type: "smmu.domain.unmap",
      data: { instance: 0, domain: d, iova: 0x20_1000n, length: 0x1000n },
    });
    expect(paOf(log, 1, 0x20_0000n)).toBe(0x8000_0000);
    expect(paOf(log, 1, 0x20_1000n)).toBeUndefined();
    expect(paOf(log, 1, 0x3f_f000n)).toBe(0x801f_f000);
  });

  it("refuses overlapping maps (EEXIST) and bad ranges (EINVAL)", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    map(log, d, 0x1000n, 1, 1);
    const m = (iova: bigint, prot = RW) =>
      log.dispatch({
        type: "smmu.domain.map",
        data: { instance: 0, domain: d, iova, pfnRuns: [{ pfn: 2, count: 1 }], prot },
      });
    expect(m(0x1000n)).toMatchObject({ name: "EEXIST" });
    expect(m(0x1800n)).toMatchObject({ name: "EINVAL" });
    expect(m(1n << 48n)).toMatchObject({ name: "EINVAL" });
    expect(m(0x5000n, 0)).toMatchObject({ name: "EINVAL" });
    expect(
      log.dispatch({
        type: "smmu.domain.map",
        data: { instance: 0, domain: 99, iova: 0n, pfnRuns: [], prot: RW },
      }),
    ).toMatchObject({ name: "ENOENT" });
  });

  it("attaches PASIDs: SSID n uses its own CD; SSID 0 is F_STREAM_DISABLED under S1DSS = SSID0 (§5.2)", () => {
    const log = withSmmu();
    const a = domain(log, "s1");
    const b = domain(log, "s1");
    map(log, a, 0x1000n, 0x10, 1);
    map(log, b, 0x1000n, 0x20, 1);
    attach(log, a, 7);
    attach(log, b, 7, { ssid: 5 });
    expect(paOf(log, 7, 0x1000n)).toBe(0x10_000);
    expect(paOf(log, 7, 0x1000n, 5)).toBe(0x20_000);
    expect(
      translate(log.state, 0, { sid: 7, ssid: 0, iova: 0x1000n, length: 1, write: false }),
    ).toMatchObject({
      fault: { id: 0x06, sid: 7, ssid: 0 },
    });
    const s2 = domain(log, "s2");
    expect(
      log.dispatch({ type: "smmu.domain.attach", data: { instance: 0, domain: s2, sid: 7, ssid: 3 } }),
    ).toMatchObject({
      name: "EINVAL",
    });
  });
});

describe("detach and free", () => {
  it("detaching a RID writes an abort STE and invalidates the device's ATC", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    map(log, d, 0x1000n, 0x10, 1);
    attach(log, d, 0x18, { ats: true });
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 0x18, iova: 0x1000n, length: 1, write: false, ats: true },
    });
    expect(inst0(log).atc.get(0x18)!.length).toBe(1);
    ok(log, { type: "smmu.domain.detach", data: { instance: 0, sid: 0x18 } });
    const i = inst0(log);
    const stePa = Number(i.mem.readU64(i.strtab.base) & 0xffff_ffff_ffc0n) + 0x18 * 64;
    expect(i.mem.readU64(stePa)).toBe(0x1n); // V | Config abort (0b000): arm_smmu_make_abort_ste
    expect(i.atc.get(0x18)).toEqual([]);
    expect(paOf(log, 0x18, 0x1000n)).toBeUndefined();
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 0x18, iova: 0x1000n, length: 1, write: false } });
    expect(evtq(log)).toEqual([]); // an abort STE terminates without a record
    expect(i.domains.get(d)!.attached).toEqual([]);
  });

  it("detaching a PASID clears its CD (C_BAD_CD after) and leaves the RID working", () => {
    const log = withSmmu();
    const a = domain(log, "s1");
    const b = domain(log, "s1");
    map(log, a, 0x1000n, 0x10, 1);
    map(log, b, 0x1000n, 0x20, 1);
    attach(log, a, 7);
    attach(log, b, 7, { ssid: 5 });
    ok(log, { type: "smmu.domain.detach", data: { instance: 0, sid: 7, ssid: 5 } });
    expect(paOf(log, 7, 0x1000n)).toBe(0x10_000);
    expect(
      translate(log.state, 0, { sid: 7, ssid: 5, iova: 0x1000n, length: 1, write: false }),
    ).toMatchObject({
      fault: { id: 0x0a, ssid: 5 },
    });
    expect(
      log.dispatch({ type: "smmu.domain.detach", data: { instance: 0, sid: 8, ssid: 5 } }),
    ).toMatchObject({
      name: "EINVAL",
    });
  });

  it("frees a domain only when nothing is attached and no nested domain uses it (EBUSY)", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    const s2 = domain(log, "s2");
    attach(log, d, 1);
    const free = (domain: number) =>
      log.dispatch({ type: "smmu.domain.free", data: { instance: 0, domain } });
    expect(free(d)).toMatchObject({ name: "EBUSY" });
    ok(log, { type: "smmu.domain.detach", data: { instance: 0, sid: 1 } });
    expect(isErrno(free(d))).toBe(false);
    expect(free(d)).toMatchObject({ name: "ENOENT" });
    ok(log, { type: "smmu.domain.allocNested", data: { instance: 0, parent: s2, ste: [0n, 0n] } });
    expect(free(s2)).toMatchObject({ name: "EBUSY" });
  });
});

describe("nested domains (IOMMU_HWPT_DATA_ARM_SMMUV3)", () => {
  const alloc = (log: Log, parent: number, ste: [bigint, bigint], flags?: number) =>
    log.dispatch({
      type: "smmu.domain.allocNested",
      data: { instance: 0, parent, ste, ...(flags === undefined ? {} : { flags }) },
    });

  it("validates the guest STE as arm_smmu_validate_vste does", () => {
    const log = withSmmu();
    const s1 = domain(log, "s1");
    const s2 = domain(log, "s2");
    const s1cfg = 0xbn; // V | Config stage-1
    expect(alloc(log, s2, [s1cfg, 0n], 1)).toMatchObject({ name: "EOPNOTSUPP" });
    expect(alloc(log, s1, [s1cfg, 0n])).toMatchObject({ name: "EINVAL" });
    // Word 0 bit 6 is the lowest bit of S1ContextPtr (bits 51:6): allowed.
    expect(isErrno(alloc(log, s2, [s1cfg | (1n << 6n), 0n]))).toBe(false);
  });

  it("keeps the guest's EATS = 1 for ATS through the event, and replays to the same domain", () => {
    const log = withSmmu();
    const s2 = domain(log, "s2");
    const r = alloc(log, s2, [0xbn, 1n << 28n]); // V | Config stage-1, EATS = 1 (word 1 bits 29:28)
    if (isErrno(r)) throw new Error(String(r));
    const ev = r.find((e) => e.type === "smmu.domain.nestedAllocated")!.data as {
      ste: bigint[];
      domain: number;
    };
    expect(ev.ste[1]).toBe(1n << 28n); // the guest's word, not the stored copy with EATS cleared
    const d = log.peek().smmu.instances.get(0)!.domains.get(ev.domain)!;
    expect(d.enableAts).toBe(true);
    expect((d.vste![1] >> 28n) & 3n).toBe(0n); // the stored STE has EATS cleared (the host owns it)
  });

  it("EIO for bits outside the allowed set, a stage-2/nested Config, EATS = 2", () => {
    const log = withSmmu();
    const s2 = domain(log, "s2");
    expect(alloc(log, s2, [0xbn, 1n << 19n])).toMatchObject({ name: "EIO" }); // MEV is the host's
    expect(alloc(log, s2, [0xbn | (1n << 52n), 0n])).toMatchObject({ name: "EIO" }); // word 0 bit 52: beyond S1ContextPtr
    expect(alloc(log, s2, [0xdn, 0n])).toMatchObject({ name: "EIO" }); // Config 0b110
    expect(alloc(log, s2, [0xfn, 0n])).toMatchObject({ name: "EIO" }); // Config 0b111
    expect(alloc(log, s2, [0xbn, 2n << 28n])).toMatchObject({ name: "EIO" }); // EATS = S1CHK
    // V = 0: accepted and stored as zeros, whatever else it says
    const ev = alloc(log, s2, [0xen, 0xffn]);
    if (isErrno(ev)) throw new Error(String(ev));
    const id = (ev[0]!.data as { domain: number }).domain;
    expect(log.peek().smmu.instances.get(0)!.domains.get(id)!.vste).toEqual([0n, 0n]);
  });

  it("attaches: the physical STE is Config nested with the guest's stage-1 fields and the parent's stage 2", () => {
    const log = withSmmu();
    const s2 = domain(log, "s2");
    // Stage 2: IPA [0, 2 MiB) → PA 0x4000_0000 (one 2 MiB block)
    map(log, s2, 0n, 0x4_0000, 512);
    const G = 0x4000_0000;
    ramWords(
      log,
      G + 0x1000,
      encodeCd({ t0sz: 25, v: true, ips: 5, aa64: true, r: true, asid: 3, ttb0: 0x2000 }),
    );
    ram64(log, G + 0x2000, 0x3000n | 3n);
    ram64(log, G + 0x3000, 0x4000n | 3n);
    ram64(log, G + 0x4000 + 5 * 8, 0x8000n | 0x743n);
    const vste: [bigint, bigint] = [0x1000n | 0xbn, 0x1n << 28n]; // S1ContextPtr 0x1000, V, stage 1; EATS = 1
    const r = alloc(log, s2, vste);
    const nested = isErrno(r) ? 0 : (r[0]!.data as { domain: number }).domain;
    attach(log, nested, 0x30);
    const i = inst0(log);
    const stePa = Number(i.mem.readU64(i.strtab.base) & 0xffff_ffff_ffc0n) + 0x30 * 64;
    expect(i.mem.readU64(stePa)).toBe(0x1000n | 0xfn); // V | Config 0b111 | S1ContextPtr
    expect(i.mem.readU64(stePa + 8)).toBe(1n << 19n); // MEV; EATS cleared (ats not enabled on the device)
    expect(paOf(log, 0x30, 0x5010n)).toBe(0x4000_8010);
  });
});

describe("stage-2 paging domain", () => {
  it("writes Linux's S2 STE (VTCR 4 KiB, 48-bit, SL0 2) and translates IPA → PA", () => {
    const log = withSmmu();
    const d = domain(log, "s2");
    map(log, d, 0x4000_0000n, 0x9_0000, 1, IOMMU_READ);
    attach(log, d, 2);
    const i = inst0(log);
    const stePa = Number(i.mem.readU64(i.strtab.base) & 0xffff_ffff_ffc0n) + 2 * 64;
    expect(i.mem.readU64(stePa)).toBe(0xdn);
    // VMID 1 | T0SZ 16 | SL0 2 | IR0/OR0 WBWA | SH0 ISH | TG 4K | PS 48 bits | S2AA64 | S2PTW | S2R
    expect(i.mem.readU64(stePa + 16)).toBe(0x044d_3590_0000_0001n);
    expect(paOf(log, 2, 0x4000_0123n)).toBe(0x9000_0123);
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 2, iova: 0x4000_0000n, length: 1, write: true, bytes: new Uint8Array(1) },
    });
    expect(evtq(log)[0]!.slice(0, 2)).toEqual([0x0000_0002_0000_0013n, 0x0000_0280_0000_0000n]);
  });
});

describe("decider specifications and fail-nth", () => {
  const added = {
    type: "smmu.instance.added" as const,
    data: {
      instance: 0,
      tableBase: TABLE_BASE,
      tableSize: TABLE_SIZE,
      idr: [0x094d341b, 16 | (20 << 6) | (8 << 11) | (8 << 16) | (8 << 21), 0, 1 << 10, 0, 0x75],
      iidr: 0x4870043b,
      aidr: 2,
      tlbEntries: 512,
      steCacheEntries: 64,
      cdCacheEntries: 256,
      strtabBase: TABLE_BASE,
    },
  };

  it("smmu.instance.add with defaults puts the 2-level stream table (256 L1 descriptors) at the region's start", () => {
    specify(decider)
      .given([])
      .when({
        type: "smmu.instance.add",
        data: { instance: 0, tableBase: TABLE_BASE, tableSize: TABLE_SIZE },
      })
      .thenEvents([added]);
  });

  it("smmu.ste.write allocates a level-2 stream table (256 STEs) after the L1 table", () => {
    const ste = encodeSte({ v: true, config: STE_CFG.BYPASS });
    specify(decider)
      .given([added])
      .when({ type: "smmu.ste.write", data: { instance: 0, sid: 0x305, ste } })
      .thenEvents([
        { type: "smmu.ste.written", data: { instance: 0, sid: 0x305, ste, l2: TABLE_BASE + 0x1000n } },
      ])
      .thenState((s) => {
        const i = s.smmu.instances.get(0)!;
        // L1STD for SIDs 0x300..0x3ff: L2Ptr | Span = SPLIT + 1 = 9
        expect(i.mem.readU64(Number(TABLE_BASE) + 3 * 8)).toBe(TABLE_BASE + 0x1000n + 9n);
        expect(i.mem.readU64(Number(TABLE_BASE) + 0x1000 + 5 * 64)).toBe(0x9n);
      });
  });

  it("fails cleanly at every fallible step (map, attach, ste.write, cd.write, instance.add, alloc)", () => {
    const log = withSmmu();
    const d = domain(log, "s1");
    const nested = domain(log, "s2");
    const cmds: SmmuCommand[] = [
      {
        type: "smmu.domain.map",
        data: { instance: 0, domain: d, iova: 0x1000n, pfnRuns: [{ pfn: 1, count: 3 }], prot: RW },
      },
      { type: "smmu.domain.attach", data: { instance: 0, domain: d, sid: 0x99 } },
      { type: "smmu.ste.write", data: { instance: 0, sid: 0x777, ste: encodeSte({ v: true, config: 4 }) } },
      { type: "smmu.domain.alloc", data: { instance: 0, kind: "s1" } },
      { type: "smmu.domain.allocNested", data: { instance: 0, parent: nested, ste: [0n, 0n] } },
      { type: "smmu.instance.add", data: { instance: 1, tableBase: 0x20_0000_0000n, tableSize: 0x10_0000n } },
      { type: "smmu.mem.alloc", data: { instance: 0, bytes: 100 } },
    ];
    const steps = cmds.map((c) => sweepFailNth(decider, log.state, c).steps);
    // map: one page-table page per level below the root (L1, L2, L3); attach: CD table, its
    // 64 KiB leaf, the level-2 stream table; the others one allocation each (alloc: two).
    expect(steps).toEqual([3, 3, 1, 2, 1, 1, 1]);
    expect(sweepFailNth(decider, log.state, cmds[1]!).sites).toEqual([
      "smmu.cdtab_alloc",
      "smmu.l2_cdtab_alloc",
      "smmu.l2_strtab_alloc",
    ]);
    attach(log, d, 0x99);
    map(log, d, 0x20_0000n, 0x200, 512);
    const split = {
      type: "smmu.domain.unmap" as const,
      data: { instance: 0, domain: d, iova: 0x20_0000n, length: 0x1000n },
    };
    expect(sweepFailNth(decider, log.state, split).sites).toEqual(["smmu.split_blk_alloc"]);
    const cdLeaf = {
      type: "smmu.cd.write" as const,
      data: { instance: 0, sid: 0x99, ssid: 0x500, cd: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] },
    };
    expect(sweepFailNth(decider, log.state, cdLeaf).sites).toEqual(["smmu.l2_cdtab_alloc"]);
  });

  it("ENOMEM when table memory runs out; ENODEV for an unknown instance", () => {
    const log = withSmmu();
    expect(
      log.dispatch({ type: "smmu.mem.alloc", data: { instance: 0, bytes: Number(TABLE_SIZE) } }),
    ).toMatchObject({ name: "ENOMEM" });
    expect(
      log.dispatch({ type: "smmu.dma", data: { instance: 3, sid: 0, iova: 0n, length: 1, write: false } }),
    ).toMatchObject({ name: "ENODEV" });
    expect(
      log.dispatch({ type: "smmu.cmdq.submit", data: { instance: 0, cmds: [[cmd.sync()[0], 0n]] } }),
    ).not.toMatchObject({ name: "ENODEV" });
  });
});

describe("map/unmap against a naive model (fast-check)", () => {
  it("every mapped page translates to its frame; every other page faults", () => {
    const op = fc.record({
      unmap: fc.boolean(),
      page: fc.integer({ min: 0, max: 1023 }),
      count: fc.integer({ min: 1, max: 64 }),
      pfn: fc.integer({ min: 0x1000, max: 0xfffff }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const log = withSmmu();
        const d = domain(log, "s1");
        attach(log, d, 1);
        const model = new Map<number, number>();
        for (const o of ops) {
          const pages = Array.from({ length: o.count }, (_, k) => o.page + k);
          if (o.unmap) {
            ok(log, {
              type: "smmu.domain.unmap",
              data: { instance: 0, domain: d, iova: BigInt(o.page) << 12n, length: BigInt(o.count) << 12n },
            });
            for (const p of pages) model.delete(p);
          } else if (pages.every((p) => !model.has(p))) {
            map(log, d, BigInt(o.page) << 12n, o.pfn, o.count);
            for (const [k, p] of pages.entries()) model.set(p, o.pfn + k);
          }
        }
        for (let p = 0; p < 1024 + 64; p++)
          expect(paOf(log, 1, BigInt(p) << 12n)).toBe(model.has(p) ? model.get(p)! * 4096 : undefined);
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});
