/**
 * Nested translation driven the way iommufd will drive it: a NEST_PARENT
 * paging domain maps guest RAM, a nested domain from `iommu_hwpt_vtd_s1`
 * points at the guest's own first-stage tables (in RAM), user invalidation
 * per Linux nested.c, and page requests from a PRI-capable device answered
 * through a page group response.
 */

import { combine, stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import {
  IOMMU_VTD_INV_FLAGS_LEAF,
  IOMMU_VTD_S1_SRE,
  IOMMU_VTD_S1_WPE,
  iommuHwptPgfault,
  iommuHwptVtdS1,
  iommuHwptVtdS1Invalidate,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  encodeDescriptors,
  FL,
  FR,
  flEntry,
  IOMMU_READ,
  IOMMU_WRITE,
  IOTLB_GRAN,
  iotlbDesc,
  PIOTLB_GRAN,
  pageRequestToPgfault,
  pageResponseFor,
  pendingPageRequests,
  piotlbDesc,
  translate,
  vtd,
} from "../src/index";
import { fails, mm, ok, poke, RID, system } from "./fixture";

const GUEST = 0x1000_0000; // guest RAM (GPA 0..16 MiB) lives at this HPA
const IOVA = 0x7f12_3456_7abcn; // PML4 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167
const DIR = FL.P | FL.RW | FL.US;

function nested(opts: { pri?: boolean; flags?: bigint; addrWidth?: number } = {}) {
  const log = system();
  ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
  ok(log, { type: "vtd.domain.alloc", data: { unit: 0, nestParent: true } });
  ok(log, {
    type: "vtd.domain.map",
    data: {
      unit: 0,
      did: 2,
      iova: 0n,
      pfnRuns: [{ pfn: GUEST / 4096, count: 4096 }],
      prot: IOMMU_READ | IOMMU_WRITE,
    },
  });
  // The guest's first-stage tables at GPA 0x1000..0x4000; the data page at GPA 0x20_0000.
  poke(log, GUEST + 0x1000 + 0xfe * 8, flEntry(2, DIR));
  poke(log, GUEST + 0x2000 + 0x48 * 8, flEntry(3, DIR));
  poke(log, GUEST + 0x3000 + 0x1a2 * 8, flEntry(4, DIR));
  poke(log, GUEST + 0x4000 + 0x167 * 8, flEntry(0x200, DIR));
  const data = iommuHwptVtdS1.encode({
    flags: opts.flags ?? 0n,
    pgtbl_addr: 0x1000n,
    addr_width: opts.addrWidth ?? 48,
  });
  ok(log, { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data } });
  ok(log, {
    type: "vtd.device.attach",
    data: { unit: 0, rid: RID, pasid: 5, did: 3, pri: opts.pri ?? false },
  });
  return log;
}

const hpa = (log: ReturnType<typeof system>, iova: bigint, pasid = 5) => {
  const t = translate(log.state, 0, { rid: RID, pasid, iova, length: 1, write: false });
  return "kind" in t && t.kind === "ok" ? t.runs[0]!.pa : t;
};
const write = (iova: bigint) =>
  ({
    type: "vtd.dma",
    data: { unit: 0, rid: RID, pasid: 5, iova, length: 4, write: true, bytes: Uint8Array.of(1, 2, 3, 4) },
  }) as const;

describe("nested domains (Linux nested.c, VT-d §3.8)", () => {
  it("translates a guest IOVA through the guest's first stage and the parent's second stage", () => {
    const log = nested();
    const ev = ok(log, write(IOVA));
    const fill = ev.find((e) => e.type === "vtd.iotlb.filled");
    expect(fill?.data).toMatchObject({ did: 3, pasid: 5, cls: 2, sizeIdx: 0 });
    const w = ev.findLast((e) => e.type === "mm.phys.written");
    expect((w?.data as { pa: bigint } | undefined)?.pa).toBe(BigInt(GUEST) + 0x20_0abcn);
    expect(log.state.mm.ram.readU32(GUEST + 0x20_0abc)).toBe(0x0403_0201);
  });

  it("keeps a stale first-stage translation until the user invalidates the right range", () => {
    const log = nested();
    ok(log, write(IOVA));
    poke(log, GUEST + 0x4000 + 0x167 * 8, flEntry(0x300, DIR)); // the guest remaps without invalidating
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x20_0abcn);

    const inv = (addr: bigint, npages: bigint, flags = 0) =>
      ({
        type: "vtd.hwpt.invalidate",
        data: {
          unit: 0,
          did: 3,
          data: iommuHwptVtdS1Invalidate.encode({ addr, npages, flags }),
          entryLen: 24,
          entryNum: 1,
        },
      }) as const;
    ok(log, inv(0x1000n, 1n)); // another page
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x20_0abcn);
    const qi = (d: ReturnType<typeof piotlbDesc>) =>
      ({ type: "vtd.qi.submit", data: { unit: 0, descriptors: encodeDescriptors([d], 32) } }) as const;
    ok(log, qi(piotlbDesc(PIOTLB_GRAN.NONGLOBAL_PASID, 3, 6))); // another PASID
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x20_0abcn);
    ok(log, qi(piotlbDesc(PIOTLB_GRAN.NONGLOBAL_PASID, 2, 5))); // another domain
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x20_0abcn);

    const ev = ok(log, inv(IOVA & ~0xfffn, 1n, IOMMU_VTD_INV_FLAGS_LEAF));
    expect(ev.map((e) => e.type)).toEqual(["vtd.qi.executed", "vtd.hwpt.invalidated"]);
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x30_0abcn);
  });

  it("a change of the parent's second stage shows after an IOTLB invalidation of the nested DID", () => {
    const log = nested();
    ok(log, write(IOVA));
    ok(log, { type: "vtd.domain.unmap", data: { unit: 0, did: 2, iova: 0x20_0000n, length: 0x20_0000n } });
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0x20_0000n, pfnRuns: [{ pfn: 0x9_0000, count: 512 }], prot: IOMMU_READ },
    });
    expect(hpa(log, IOVA)).toBe(BigInt(GUEST) + 0x20_0abcn);
    ok(log, {
      type: "vtd.qi.submit",
      data: {
        unit: 0,
        descriptors: encodeDescriptors([[0x3_0032n | (1n << 6n) | (1n << 7n), 0x20_0009n]], 32),
      },
    }); // IOTLB page-selective, DID 3, GPA 0x20_0000, AM 9
    expect(hpa(log, IOVA)).toBe(0x9000_0abcn);
  });

  it("a failed step leaves no trace: nested allocation and user invalidation under every fail-nth", () => {
    const log = nested();
    const state = log.state;
    const decider = combine({ mm, vtd });
    const data = iommuHwptVtdS1.encode({ flags: 0n, pgtbl_addr: 0x1000n, addr_width: 48 });
    expect(
      sweepFailNth(decider, state, { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data } })
        .sites,
    ).toEqual(["vtd.domain_alloc", "vtd.did_alloc"]);
    const entry = iommuHwptVtdS1Invalidate.encode({ addr: 0n, npages: 0xffff_ffff_ffff_ffffn, flags: 0 });
    const inv = sweepFailNth(decider, state, {
      type: "vtd.hwpt.invalidate",
      data: { unit: 0, did: 3, data: entry, entryLen: 24, entryNum: 1 },
    });
    expect(inv.sites).toEqual(["vtd.qi_submit"]);
    expect(stateHash(log.state)).toBe(stateHash(state));
  });

  it("validates allocation and attach like Linux", () => {
    const log = nested();
    const data = (v: Partial<{ flags: bigint; addr_width: number }>) =>
      iommuHwptVtdS1.encode({ flags: 0n, pgtbl_addr: 0x1000n, addr_width: 48, ...v });
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } }); // DID 4, not a nest parent
    fails(log, { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 4, data: data({}) } }, "EINVAL");
    fails(
      log,
      { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data: data({ flags: 8n }) } },
      "EOPNOTSUPP",
    );
    const reserved = data({});
    reserved[20] = 1;
    fails(
      log,
      { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data: reserved } },
      "EOPNOTSUPP",
    );
    fails(
      log,
      { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data: data({}).subarray(0, 16) } },
      "EINVAL",
    );
    const tail = new Uint8Array(32);
    tail.set(data({}));
    tail[31] = 1;
    fails(log, { type: "vtd.domain.alloc_nested", data: { unit: 0, parent: 2, data: tail } }, "E2BIG");
    ok(log, {
      type: "vtd.domain.alloc_nested",
      data: { unit: 0, parent: 2, data: data({ addr_width: 39 }) },
    });
    fails(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, pasid: 7, did: 5 } }, "EINVAL");
    ok(log, {
      type: "vtd.domain.alloc_nested",
      data: { unit: 0, parent: 2, data: data({ flags: BigInt(IOMMU_VTD_S1_SRE) }) },
    });
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, pasid: 7, did: 6 } });
    fails(log, { type: "vtd.domain.free", data: { unit: 0, did: 2 } }, "EBUSY");
  });

  it("processes user invalidation entries until the first bad one (entry_num = handled)", () => {
    const log = nested();
    const good = iommuHwptVtdS1Invalidate.encode({ addr: 0x1000n, npages: 1n, flags: 0 });
    const badFlags = iommuHwptVtdS1Invalidate.encode({ addr: 0x1000n, npages: 1n, flags: 0 });
    badFlags[16] = 2;
    const unaligned = iommuHwptVtdS1Invalidate.encode({ addr: 0x1001n, npages: 1n, flags: 0 });
    const cmd = (...entries: Uint8Array[]) =>
      ({
        type: "vtd.hwpt.invalidate",
        data: {
          unit: 0,
          did: 3,
          data: Uint8Array.from(entries.flatMap((e) => [...e])),
          entryLen: 24,
          entryNum: entries.length,
        },
      }) as const;
    const ev = ok(log, cmd(good, badFlags, good));
    expect(ev.at(-1)?.data).toEqual({ unit: 0, did: 3, handled: 1, error: "EOPNOTSUPP" });
    fails(log, cmd(unaligned), "EINVAL");
    // npages U64_MAX means "everything" and only goes with addr 0 (Linux nested.c)
    const everything = iommuHwptVtdS1Invalidate.encode({
      addr: 0n,
      npages: 0xffff_ffff_ffff_ffffn,
      flags: 0,
    });
    const everythingAt = iommuHwptVtdS1Invalidate.encode({
      addr: 0x1000n,
      npages: 0xffff_ffff_ffff_ffffn,
      flags: 0,
    });
    expect(ok(log, cmd(good, everything)).at(-1)?.data).toEqual({ unit: 0, did: 3, handled: 2 });
    expect(ok(log, cmd(good, everythingAt)).at(-1)?.data).toEqual({
      unit: 0,
      did: 3,
      handled: 1,
      error: "EINVAL",
    });
    fails(log, cmd(badFlags), "EOPNOTSUPP");
    fails(log, { ...cmd(good), data: { ...cmd(good).data, entryLen: 16 } }, "EINVAL");
    fails(log, { ...cmd(good), data: { ...cmd(good).data, did: 2 } }, "EOPNOTSUPP");
  });
});

describe("page requests (VT-d §7, Linux prq.c; QEMU has none)", () => {
  const MISSING = 0x7f12_3456_8000n; // PT index 0x168: not present in the guest's tables

  it("a PRI device's fault becomes a page request; the response lets the retry succeed", () => {
    const log = nested({ pri: true });
    const ev = ok(log, write(MISSING + 0x10n));
    expect(ev.map((e) => e.type)).toEqual(["vtd.context.cached", "vtd.pasid.cached", "vtd.prq.queued"]);
    let unit = log.state.vtd.units.get(0)!;
    expect(unit.faults.every((f) => f === null)).toBe(true);

    // Software (the host driver) reads the queue; the request reaches iommufd's fault queue.
    const [req] = pendingPageRequests(unit);
    expect(req).toEqual({
      rid: RID,
      pasid: 5,
      addr: MISSING,
      read: false,
      write: true,
      exec: false,
      privileged: false,
      lpig: true,
      index: 0,
    });
    const rec = iommuHwptPgfault.encode(pageRequestToPgfault(req!, 1, 0));
    const v = new DataView(rec.buffer);
    // flags: PASID_VALID | LAST_PAGE | (kernel) RESPONSE_NEEDS_PASID; dev_id; pasid; grpid; perm WRITE; addr
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)]).toEqual(
      [7, 1, 5, 0],
    );
    expect(v.getUint32(16, true)).toBe(2);
    expect(v.getBigUint64(24, true)).toBe(MISSING);
    ok(log, { type: "vtd.prq.consume", data: { unit: 0 } });
    unit = log.state.vtd.units.get(0)!;
    expect(pendingPageRequests(unit)).toEqual([]);

    // Userspace (the VMM's guest) fills the page, then responds SUCCESS.
    poke(log, GUEST + 0x4000 + 0x168 * 8, flEntry(0x400, DIR));
    ok(log, {
      type: "vtd.qi.submit",
      data: { unit: 0, descriptors: encodeDescriptors([pageResponseFor(req!, 0)], 32) },
    });
    expect(log.state.vtd.units.get(0)!.pageGroups.get(RID * 512)?.response).toBe(0);

    // The device retries.
    const retry = ok(log, write(MISSING + 0x10n));
    const w = retry.findLast((e) => e.type === "mm.phys.written");
    expect((w?.data as { pa: bigint } | undefined)?.pa).toBe(BigInt(GUEST) + 0x40_0010n);
  });

  it("a DMA over several missing pages asks for all of them in one group, LPIG on the last", () => {
    const log = nested({ pri: true });
    ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, pasid: 5, iova: MISSING + 0x10n, length: 0x2000, write: false },
    });
    const reqs = pendingPageRequests(log.state.vtd.units.get(0)!);
    expect(reqs.map((r) => [r.addr, r.index, r.lpig, r.read])).toEqual([
      [MISSING, 0, false, true],
      [MISSING + 0x1000n, 0, false, true],
      [MISSING + 0x2000n, 0, true, true],
    ]);
    // The next fault of the device, while group 0 awaits its response, uses group 1.
    ok(log, write(MISSING + 0x5000n));
    expect(pendingPageRequests(log.state.vtd.units.get(0)!).at(-1)).toMatchObject({ index: 1, lpig: true });
  });

  it("without PRI the same fault is a primary fault record (0x71)", () => {
    const log = nested();
    const ev = ok(log, write(MISSING));
    expect(ev.at(-1)).toMatchObject({
      type: "vtd.fault.recorded",
      data: { reason: FR.FS_ENTRY_P, pasid: 5 },
    });
  });

  it("drops requests while the queue is full (PRO)", () => {
    const log = system();
    ok(log, { type: "vtd.unit.add", data: { unit: 0, prqFrames: 1 } });
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2, pri: true } });
    for (let i = 0; i < 127; i++)
      ok(log, {
        type: "vtd.dma",
        data: { unit: 0, rid: RID, iova: BigInt(i) * 4096n, length: 1, write: false },
      });
    expect(pendingPageRequests(log.state.vtd.units.get(0)!).length).toBe(127);
    const ev = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x100_0000n, length: 1, write: false },
    });
    expect(ev.at(-1)?.data).toMatchObject({ overflow: true });
    expect(log.state.vtd.units.get(0)!.pro).toBe(true);
  });
});

describe("first-stage accessed/dirty bits (VT-d §3.6.2: A on every entry used, D on the leaf of a write)", () => {
  const entry = (log: ReturnType<typeof system>, gpa: number) => log.state.mm.ram.readU64(GUEST + gpa);
  const levels = [0x1000 + 0xfe * 8, 0x2000 + 0x48 * 8, 0x3000 + 0x1a2 * 8, 0x4000 + 0x167 * 8];

  it("a read sets A at each level; a later write through the cached entry sets D", () => {
    const log = nested();
    const read = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, pasid: 5, iova: IOVA, length: 4, write: false },
    });
    const adWrites = read
      .filter((e) => e.type === "mm.phys.written")
      .map((e) => (e.data as { pa: bigint }).pa);
    expect(adWrites).toEqual(levels.map((g) => BigInt(GUEST + g)));
    // entry | A (0x20); the leaf points at GPA 0x20_0000 with P|RW|US.
    expect(levels.map((g) => entry(log, g))).toEqual([0x2027n, 0x3027n, 0x4027n, 0x20_0027n]);
    const w = ok(log, write(IOVA));
    expect(w.filter((e) => e.type === "mm.phys.written").map((e) => (e.data as { pa: bigint }).pa)).toEqual([
      BigInt(GUEST + levels[3]!),
      BigInt(GUEST) + 0x20_0abcn,
    ]);
    expect(entry(log, levels[3]!)).toBe(0x20_0067n); // | D (0x40)
    // Now cached dirty: the next write is an IOTLB hit.
    expect(ok(log, write(IOVA)).map((e) => e.type)).toEqual(["mm.phys.written"]);
  });

  it("faults 0x77 when the second stage does not let the hardware update a first-stage table", () => {
    const log = nested();
    // Remap guest page 0x4000 (the PT page) read-only in the parent.
    ok(log, { type: "vtd.domain.unmap", data: { unit: 0, did: 2, iova: 0n, length: 0x20_0000n } });
    ok(log, {
      type: "vtd.domain.map",
      data: {
        unit: 0,
        did: 2,
        iova: 0n,
        pfnRuns: [{ pfn: GUEST / 4096, count: 4 }],
        prot: IOMMU_READ | IOMMU_WRITE,
      },
    });
    ok(log, {
      type: "vtd.domain.map",
      data: {
        unit: 0,
        did: 2,
        iova: 0x4000n,
        pfnRuns: [{ pfn: GUEST / 4096 + 4, count: 1 }],
        prot: IOMMU_READ,
      },
    });
    const ev = ok(log, write(IOVA));
    expect(ev.at(-1)).toMatchObject({ type: "vtd.fault.recorded", data: { reason: FR.FS_AD_WRITE_NESTED } });
  });

  it("a second-stage translation after a faulted first-stage one performs no leftover update", () => {
    const log = nested();
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } }); // RID_PASID → the parent
    poke(log, GUEST + 0x4000 + 0x167 * 8, flEntry(0x200, FL.P | FL.US)); // read-only leaf
    expect(ok(log, write(IOVA)).at(-1)?.type).toBe("vtd.fault.recorded");
    const ev = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x20_0000n, length: 4, write: false },
    });
    expect(ev.map((e) => e.type)).toEqual(["vtd.pasid.cached", "vtd.iotlb.filled"]);
  });

  it("a faulting access sets no bits", () => {
    const log = nested();
    poke(log, GUEST + 0x4000 + 0x167 * 8, flEntry(0x200, FL.P | FL.US)); // read-only leaf
    const ev = ok(log, write(IOVA));
    expect(ev.filter((e) => e.type === "mm.phys.written")).toEqual([]);
    expect(ev.at(-1)).toMatchObject({ type: "vtd.fault.recorded", data: { reason: FR.NO_WRITE } });
  });
});

describe("first-stage permissions of a nested domain (VT-d §3.6.1, faults SGN.2/3/6)", () => {
  // A supervisor-only, read-only, execute-disabled data page at IOVA + 0x1000 (PT index 0x168).
  const SUP = IOVA + 0x1000n;
  const setup = (flags: bigint) => {
    const log = nested({ flags });
    poke(log, GUEST + 0x4000 + 0x168 * 8, flEntry(0x500, FL.P, true));
    return log;
  };
  const dma = (
    log: ReturnType<typeof system>,
    o: { write: boolean; privileged?: boolean; exec?: boolean },
  ) => {
    const ev = ok(log, {
      type: "vtd.dma",
      data: {
        unit: 0,
        rid: RID,
        pasid: 5,
        iova: SUP,
        length: 4,
        ...o,
        ...(o.write ? { bytes: new Uint8Array(4) } : {}),
      },
    });
    const fault = ev.find((e) => e.type === "vtd.fault.recorded");
    return fault === undefined ? "ok" : (fault.data as { reason: number }).reason;
  };

  it("user requests need U/S; supervisor requests need SRE", () => {
    const log = setup(BigInt(IOMMU_VTD_S1_SRE));
    expect(dma(log, { write: false })).toBe(FR.US_CLEAR);
    expect(dma(log, { write: false, privileged: true })).toBe("ok");
    expect(dma(setup(0n), { write: false, privileged: true })).toBe(FR.PASID_SRE_CLEAR);
  });

  it("a supervisor write to a read-only page faults only with WPE", () => {
    expect(dma(setup(BigInt(IOMMU_VTD_S1_SRE)), { write: true, privileged: true })).toBe("ok");
    expect(dma(setup(BigInt(IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE)), { write: true, privileged: true })).toBe(
      FR.NO_WRITE,
    );
  });

  it("an execute request to an XD page faults 0x82", () => {
    expect(dma(setup(BigInt(IOMMU_VTD_S1_SRE)), { write: false, privileged: true, exec: true })).toBe(
      FR.NO_EXECUTE,
    );
  });

  it("a non-canonical IOVA faults 0x80", () => {
    const log = nested();
    const ev = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, pasid: 5, iova: 1n << 47n, length: 4, write: false },
    });
    expect(ev.at(-1)?.data).toMatchObject({ reason: FR.NON_CANONICAL });
  });
});

describe("SVA: a first-stage-only domain over a process page table (Linux svm.c, PGTT 1)", () => {
  function sva() {
    const log = system();
    ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
    // The process's page table in RAM: PML4 at 0x1000 … PT at 0x4000; VA 0x7f12_3456_7000 → frame 0x5_5555.
    poke(log, 0x1000 + 0xfe * 8, flEntry(2, DIR));
    poke(log, 0x2000 + 0x48 * 8, flEntry(3, DIR));
    poke(log, 0x3000 + 0x1a2 * 8, flEntry(4, DIR));
    poke(log, 0x4000 + 0x167 * 8, flEntry(0x5_5555, DIR));
    ok(log, { type: "vtd.domain.alloc_sva", data: { unit: 0, pgd: 0x1000n, addrWidth: 48 } });
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, pasid: 9, did: 2 } });
    return log;
  }
  const dmaAt = (log: ReturnType<typeof system>) => {
    const t = translate(log.state, 0, { rid: RID, pasid: 9, iova: IOVA, length: 4, write: true });
    return "kind" in t && t.kind === "ok" ? t.runs[0]!.pa : t;
  };
  const qi = (d: ReturnType<typeof piotlbDesc>) =>
    ({ type: "vtd.qi.submit", data: { unit: 0, descriptors: encodeDescriptors([d], 32) } }) as const;

  it("translates a process VA, sets A/D in the process's tables, and needs a PASID-based invalidation", () => {
    const log = sva();
    const ev = ok(log, {
      type: "vtd.dma",
      data: {
        unit: 0,
        rid: RID,
        pasid: 9,
        iova: IOVA,
        length: 4,
        write: true,
        bytes: Uint8Array.of(9, 9, 9, 9),
      },
    });
    expect(ev.find((e) => e.type === "vtd.iotlb.filled")?.data).toMatchObject({ did: 2, pasid: 9, cls: 1 });
    expect(log.state.mm.ram.readU64(0x4000 + 0x167 * 8)).toBe(0x5555_5067n); // P|RW|US|A|D
    expect(log.state.mm.ram.readU32(0x5555_5abc)).toBe(0x0909_0909);

    poke(log, 0x4000 + 0x167 * 8, flEntry(0x6_6666, DIR)); // the process remaps
    expect(dmaAt(log)).toBe(0x5555_5abcn);
    // An IOTLB (type 2) page-selective invalidation of the same DID and page leaves first-stage entries.
    ok(log, {
      type: "vtd.qi.submit",
      data: {
        unit: 0,
        descriptors: encodeDescriptors([iotlbDesc(IOTLB_GRAN.PAGE, 2, IOVA & ~0xfffn, 0)], 32),
      },
    });
    expect(dmaAt(log)).toBe(0x5555_5abcn);
    ok(log, qi(piotlbDesc(PIOTLB_GRAN.PAGE_PASID, 2, 8, IOVA & ~0xfffn, 0))); // other PASID
    expect(dmaAt(log)).toBe(0x5555_5abcn);
    ok(log, qi(piotlbDesc(PIOTLB_GRAN.PAGE_PASID, 2, 9, IOVA & ~0xfffn, 0)));
    expect(dmaAt(log)).toBe(0x6666_6abcn);
  });

  it("validates like intel_pasid_setup_first_level", () => {
    const log = sva();
    fails(log, { type: "vtd.domain.alloc_sva", data: { unit: 0, pgd: 0x1000n, addrWidth: 39 } }, "EINVAL");
    fails(log, { type: "vtd.domain.alloc_sva", data: { unit: 0, pgd: 0x1001n, addrWidth: 48 } }, "EINVAL");
    fails(
      log,
      {
        type: "vtd.domain.map",
        data: { unit: 0, did: 2, iova: 0n, pfnRuns: [{ pfn: 1, count: 1 }], prot: 3 },
      },
      "EOPNOTSUPP",
    );
  });
});
