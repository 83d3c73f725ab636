/**
 * The `vtd` subsystem end to end: programming the scalable-mode chain in
 * table memory, DMA through a second-stage domain into RAM, fault recording
 * with the spec's reasons, decider specs and fail-nth sweeps.
 */
import { combine, sealEpoch, specify, stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ECAP,
  decodeContextEntry,
  decodePasidEntry,
  dmaRead,
  encodeDescriptors,
  FR,
  framesAvailable,
  hwInfo,
  IOMMU_READ,
  IOMMU_WRITE,
  iotlbDesc,
  readContextEntry,
  reservedRegions,
  translate,
  vtd,
} from "../src/index";
import { type Cmd, fails, mm, ok, RID, type Root, system } from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;

/** Unit 0 (defaults), paging domain 2, rid 0x0310 attached (RID_PASID), 1 page at IOVA 0x10_0000 → frame 0x500 and 3 at 0x10_1000 → 0x900. */
function basic() {
  const log = system();
  ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
  ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
  ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
  ok(log, {
    type: "vtd.domain.map",
    data: {
      unit: 0,
      did: 2,
      iova: 0x10_0000n,
      pfnRuns: [
        { pfn: 0x500, count: 1 },
        { pfn: 0x900, count: 3 },
      ],
      prot: RW,
    },
  });
  return log;
}

describe("programming the tables (Linux intel_pasid_setup_sm_context / setup_second_level)", () => {
  it("writes root, context and PASID entries with the spec's layouts into table memory", () => {
    const log = basic();
    const unit = log.state.vtd.units.get(0)!;
    const t = unit.tables;
    // Root table at the first table-memory frame; bus 3's entry at +3*16, lower half (devfn 0x10 < 0x80).
    expect(unit.rootTable).toBe(0x10_0000_0000);
    const rootLo = t.readU64(0x10_0000_0000 + 3 * 16);
    expect(rootLo & 1n).toBe(1n);
    expect(t.readU64(0x10_0000_0000 + 3 * 16 + 8)).toBe(0n);
    // Context entry: devfn 0x10 * 32 bytes into the context table.
    const ctxPa = Number(rootLo & ~0xfffn) + 0x10 * 32;
    const q0 = t.readU64(ctxPa);
    expect(q0 & 0xfffn).toBe(0xe09n); // PDTS 7 (2^14 directory entries = 20-bit PASIDs), PASIDE, P
    const ce = decodeContextEntry(q0, t.readU64(ctxPa + 8));
    expect(ce.ridPasid).toBe(0);
    // PASID 0: directory entry 0 → PASID table entry 0.
    const de = t.readU64(ce.pasidDirPtr);
    expect(de & 1n).toBe(1n);
    const pePa = Number(de & ~0xfffn);
    const v0 = t.readU64(pePa);
    const v1 = t.readU64(pePa + 8);
    // PGTT 2 << 6 | AW 3 (57-bit, 5-level: the default CAP's widest SAGAW) << 2 | P
    expect(v0 & 0xfffn).toBe(0x8dn);
    // DID 2 | PWSNP (ECAP.SMPWC) | PGSNP (ECAP.SC: enforce cache coherency)
    expect(v1).toBe(0x180_0002n);
    expect(decodePasidEntry(v0, v1, t.readU64(pePa + 16)).slptptr).toBe(unit.domains.get(2)!.pgd);
  });

  it("reports iommu_hw_info_vtd (cap_reg at +8, ecap_reg at +16) and the MSI window", () => {
    const log = basic();
    const unit = log.state.vtd.units.get(0)!;
    const v = new DataView(hwInfo(unit).buffer);
    expect(v.getUint32(0, true)).toBe(0);
    expect(v.getBigUint64(8, true)).toBe(unit.config.cap);
    expect(v.getBigUint64(16, true)).toBe(unit.config.ecap);
    expect(reservedRegions()).toEqual([{ start: 0xfee0_0000n, length: 0x10_0000n, type: "msi" }]);
  });
});

describe("DMA through a second-stage domain", () => {
  it("writes RAM page by page, filling the context, PASID and IOTLB caches", () => {
    const log = basic();
    const bytes = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const events = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x10_0ff8n, length: 16, write: true, bytes },
    });
    expect(events.map((e) => e.type)).toEqual([
      "vtd.context.cached",
      "vtd.pasid.cached",
      "vtd.iotlb.filled",
      "vtd.iotlb.filled",
      "mm.phys.written",
      "mm.phys.written",
    ]);
    const writes = events.filter((e) => e.type === "mm.phys.written").map((e) => e.data as { pa: bigint });
    expect(writes.map((w) => w.pa)).toEqual([0x50_0ff8n, 0x90_0000n]);
    const root = log.state;
    expect(dmaRead(root, 0, { rid: RID, iova: 0x10_0ff8n, length: 16, write: false })).toEqual(bytes);
    const unit = root.vtd.units.get(0)!;
    expect(unit.contextCache.size).toBe(1);
    expect(unit.pasidCache.size).toBe(1);
    expect(unit.iotlb.size).toBe(2);
  });

  it("serves a second request from the caches: no fills", () => {
    const log = basic();
    const req = { unit: 0, rid: RID, iova: 0x10_0000n, length: 4, write: false } as const;
    ok(log, { type: "vtd.dma", data: req });
    expect(ok(log, { type: "vtd.dma", data: req })).toEqual([]);
  });

  it("caches a 2 MiB leaf as one IOTLB entry", () => {
    const log = basic();
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0x4000_0000n, pfnRuns: [{ pfn: 0x20_0000, count: 512 }], prot: RW },
    });
    const ev = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x4010_0000n, length: 8, write: false },
    }).find((e) => e.type === "vtd.iotlb.filled");
    expect(ev?.data).toMatchObject({ sizeIdx: 1, vpn: 0x4_0000, pfn: 0x20_0000 });
    expect(translate(log.state, 0, { rid: RID, iova: 0x401f_f000n, length: 4, write: true })).toEqual({
      kind: "ok",
      runs: [{ pa: 0x2_001f_f000n, length: 4 }],
    });
  });
});

describe("primary faults (VT-d §7.2, Appendix A)", () => {
  const dma = (
    iova: bigint,
    write: boolean,
    extra: Partial<{ rid: number; pasid: number; privileged: boolean }> = {},
  ) =>
    ({
      type: "vtd.dma",
      data: {
        unit: 0,
        rid: RID,
        iova,
        length: 4,
        write,
        ...(write ? { bytes: new Uint8Array(4) } : {}),
        ...extra,
      },
    }) as Cmd;
  const reasonOf = (log: ReturnType<typeof basic>, c: Cmd): number | undefined =>
    (ok(log, c).find((e) => e.type === "vtd.fault.recorded")?.data as { reason: number } | undefined)?.reason;

  it("records each modelled reason", () => {
    const log = basic();
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0x20_0000n, pfnRuns: [{ pfn: 0x700, count: 1 }], prot: IOMMU_READ },
    });
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0x30_0000n, pfnRuns: [{ pfn: 0x701, count: 1 }], prot: IOMMU_WRITE },
    });
    const cases: [Cmd, number][] = [
      [dma(0x9000_0000n, false), FR.SS_ENTRY_P],
      [dma(0x20_0000n, true), FR.NO_WRITE],
      [dma(0x30_0000n, false), FR.NO_READ],
      [dma(0xfee0_0000n, true), FR.INTERRUPT_ADDR],
      [dma(0x10_0000n, false, { rid: 0x0400 }), FR.ROOT_ENTRY_P], // bus 4: no context table
      [dma(0x10_0000n, false, { rid: 0x0318 }), FR.CONTEXT_ENTRY_P], // bus 3, devfn 0x18
      [dma(0x10_0000n, false, { pasid: 1 }), FR.PASID_ENTRY_P], // same PASID table as PASID 0
      [dma(0x10_0000n, false, { pasid: 64 }), FR.PASID_DIR_ENTRY_P], // directory entry 1 absent
      [dma(0x10_0000n, false, { privileged: true }), FR.PASID_SRE_CLEAR],
      [dma(1n << 57n, false), FR.ADDR_BEYOND_AW],
    ];
    for (const [c, reason] of cases) {
      const index = log.state.vtd.units.get(0)!.fri;
      expect(reasonOf(log, c)).toBe(reason);
      expect(log.state.vtd.units.get(0)!.faults[index]?.reason).toBe(reason);
      ok(log, { type: "vtd.fault.clear", data: { unit: 0, index } });
    }
  });

  it("fills fault recording registers in turn, then loses faults (PFO) until software clears", () => {
    const log = basic();
    for (let i = 0; i < 8; i++) ok(log, dma(0x9000_0000n + BigInt(i) * 4096n, false));
    let unit = log.state.vtd.units.get(0)!;
    expect(unit.faults.map((f) => f?.addr)).toEqual(
      Array.from({ length: 8 }, (_, i) => 0x9000_0000n + BigInt(i) * 4096n),
    );
    expect(unit.faults[3]).toEqual({
      reason: FR.SS_ENTRY_P,
      rid: RID,
      addr: 0x9000_3000n,
      write: false,
      privileged: false,
      exec: false,
    });
    expect(unit.fri).toBe(0);
    const lost = ok(log, dma(0xa000_0000n, false)).find((e) => e.type === "vtd.fault.recorded");
    expect(lost?.data).not.toHaveProperty("index");
    unit = log.state.vtd.units.get(0)!;
    expect(unit.pfo).toBe(true);
    ok(log, { type: "vtd.fault.clear", data: { unit: 0, index: 0, overflow: true } });
    ok(log, dma(0xb000_0000n, false));
    expect(log.state.vtd.units.get(0)!.faults[0]?.addr).toBe(0xb000_0000n);
  });
});

describe("decider specs and fail-nth", () => {
  const decider = combine({ mm, vtd });

  it("vtd.domain.alloc: DIDs start at 2 (Linux IDA_START_DID)", () => {
    specify(decider)
      .given([{ type: "vtd.unit.added", data: unitAdded() }])
      .when({ type: "vtd.domain.alloc", data: { unit: 0, nestParent: true } })
      .thenEvents([{ type: "vtd.domain.allocated", data: { unit: 0, did: 2, nestParent: true } }]);
  });

  it("rejects commands for a missing unit (ENODEV) or domain (ENOENT), and double adds (EEXIST)", () => {
    const log = basic();
    fails(log, { type: "vtd.domain.alloc", data: { unit: 1 } }, "ENODEV");
    fails(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 9 } }, "ENOENT");
    fails(log, { type: "vtd.unit.add", data: { unit: 0 } }, "EEXIST");
    fails(log, { type: "vtd.unit.add", data: { unit: 1 } }, "EINVAL"); // same default table memory
    fails(log, { type: "vtd.unit.add", data: { unit: 1, tableBase: 0x20_0000_0800n } }, "EINVAL");
    fails(log, { type: "vtd.domain.free", data: { unit: 0, did: 2 } }, "EBUSY");
    fails(
      log,
      {
        type: "vtd.domain.map",
        data: { unit: 0, did: 2, iova: 0x10_1000n, pfnRuns: [{ pfn: 1, count: 1 }], prot: RW },
      },
      "EADDRINUSE",
    );
  });

  it("a failed step leaves no trace: attach, map and alloc under every fail-nth", () => {
    const log = basic();
    sealEpoch();
    const state = log.state as Root;
    const attach = sweepFailNth(decider, state, {
      type: "vtd.device.attach",
      data: { unit: 0, rid: 0x0500, pasid: 70, did: 2 },
    });
    // context table + 32 PASID-directory frames + PASID table
    expect(attach.steps).toBe(34);
    const map = sweepFailNth(decider, state, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0x1_0000_0000_0000n, pfnRuns: [{ pfn: 7, count: 1 }], prot: RW },
    });
    expect(map.sites).toEqual(["vtd.pt_alloc", "vtd.pt_alloc", "vtd.pt_alloc", "vtd.pt_alloc"]);
    const alloc = sweepFailNth(decider, state, { type: "vtd.domain.alloc", data: { unit: 0 } });
    expect(alloc.sites).toEqual(["vtd.domain_alloc", "vtd.did_alloc", "vtd.pgd_alloc"]);
    const unitAdd = sweepFailNth(decider, state, {
      type: "vtd.unit.add",
      data: { unit: 1, tableBase: 0x20_0000_0000n },
    });
    expect(unitAdd.sites).toEqual(["vtd.unit_alloc"]);
    const qi = sweepFailNth(decider, state, {
      type: "vtd.qi.submit",
      data: { unit: 0, descriptors: encodeDescriptors([iotlbDesc(1)], 32) },
    });
    expect(qi.sites).toEqual(["vtd.qi_submit"]);
    expect(stateHash(log.state)).toBe(stateHash(state));
  });

  it("replay re-derives the same state", () => {
    const log = basic();
    ok(log, { type: "vtd.dma", data: { unit: 0, rid: RID, iova: 0x10_0000n, length: 8, write: false } });
    const hash = stateHash(log.state);
    const again = system();
    expect(stateHash(again.replay(log.records))).toBe(hash);
  });
});

function unitAdded() {
  return {
    unit: 0,
    tableBase: 0x10_0000_0000n,
    tableFrames: 1024,
    iotlbSize: 64,
    contextCacheSize: 16,
    pasidCacheSize: 16,
    prqFrames: 1,
    ...defaults(),
  };
}

function defaults() {
  const log = system();
  const added = ok(log, { type: "vtd.unit.add", data: { unit: 0 } })[0]!.data as {
    cap: bigint;
    ecap: bigint;
  };
  return { cap: added.cap, ecap: added.ecap };
}

describe("other PGTTs and PASID limits", () => {
  it("pass-through: the identity domain (DID 1, PGTT 4) maps IOVA = PA", () => {
    const log = basic();
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0, identity: true } });
    fails(log, { type: "vtd.domain.alloc", data: { unit: 0, identity: true } }, "EEXIST");
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: 0x0500, did: 1 } });
    expect(translate(log.state, 0, { rid: 0x0500, iova: 0x1234_5678n, length: 8, write: true })).toEqual({
      kind: "ok",
      runs: [{ pa: 0x1234_5678n, length: 8 }],
    });
    fails(
      log,
      {
        type: "vtd.domain.map",
        data: { unit: 0, did: 1, iova: 0n, pfnRuns: [{ pfn: 1, count: 1 }], prot: RW },
      },
      "EOPNOTSUPP",
    );
  });

  it("faults 0x45 for a PASID request without PASIDE, 0x46 for a PASID beyond the directory", () => {
    const noPasid = system();
    const ecap = DEFAULT_ECAP & ~(1n << 40n); // ECAP.PASID clear
    ok(noPasid, { type: "vtd.unit.add", data: { unit: 0, ecap } });
    ok(noPasid, { type: "vtd.domain.alloc", data: { unit: 0 } });
    ok(noPasid, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
    expect(
      translate(noPasid.state, 0, { rid: RID, pasid: 3, iova: 0n, length: 1, write: false }),
    ).toMatchObject({
      reason: FR.CONTEXT_PASIDE_CLEAR,
    });

    // PSS = 9: 10-bit PASIDs → PDTS 0 → a 128-entry directory covering PASIDs below 8192.
    const small = system();
    ok(small, {
      type: "vtd.unit.add",
      data: { unit: 0, ecap: (DEFAULT_ECAP & ~(0x1fn << 35n)) | (9n << 35n) },
    });
    ok(small, { type: "vtd.domain.alloc", data: { unit: 0 } });
    ok(small, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
    const ce = small.state.vtd.units.get(0)!;
    expect(readContextEntry(ce, RID)?.pdts).toBe(0);
    expect(
      translate(small.state, 0, { rid: RID, pasid: 8192, iova: 0n, length: 1, write: false }),
    ).toMatchObject({
      reason: FR.PASID_TOO_LARGE,
    });
    fails(small, { type: "vtd.device.attach", data: { unit: 0, rid: RID, pasid: 1024, did: 2 } }, "EINVAL");
  });

  it("freeing a domain returns its table pages for reuse", () => {
    const log = basic();
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } }); // DID 3
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 3, iova: 0n, pfnRuns: [{ pfn: 0x123, count: 1 }], prot: RW },
    });
    const before = framesAvailable(log.state.vtd.units.get(0)!);
    ok(log, { type: "vtd.domain.free", data: { unit: 0, did: 3 } });
    const unit = log.state.vtd.units.get(0)!;
    expect(framesAvailable(unit) - before).toBe(5); // a 5-level tree: one table per level
    expect(unit.domains.has(3)).toBe(false);
  });
});
