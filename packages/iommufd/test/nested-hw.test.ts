/**
 * Nested HWPTs on the hardware models through /dev/iommu bytes: a guest
 * writes its stage-1 tables into process memory mapped in the IOAS (its
 * GPA space), allocates a nested HWPT over a NEST_PARENT HWPT, attaches a
 * device, and DMA goes through both stages.
 * - VT-d (accel0 on vtd0): iommu_hwpt_vtd_s1 → PASID entry PGTT = nested;
 *   the IOTLB keeps the old translation after the guest edits its PTE
 *   until IOMMU_HWPT_INVALIDATE names that address (stale-then-fresh).
 * - SMMUv3 (gpu0 on smmu0): iommu_hwpt_arm_smmuv3 (guest STE → CD → tables).
 * Golden values: x86-64 paging entry bits (P 0x1, R/W 0x2, U/S 0x4, A 0x20,
 * D 0x40; Intel SDM vol. 3 §4.5), VT-d spec 4.1 §9.6 (first-stage entries
 * in nested mode), Arm IHI 0070 §5.2 (STE: V bit 0, Config [3:1] = 0b101
 * stage 1, S1ContextPtr [51:6]) and §5.4 (CD), VMSAv8-64 descriptors
 * (table 0b11, page 0b11, AF bit 10, SH[9:8], AP[1] bit 6), iommufd.h
 * (IOMMU_HWPT_DATA_VTD_S1 1, _ARM_SMMUV3 2, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 0,
 * IOMMU_VTD_INV_FLAGS_LEAF 1, struct sizes 24 / 16 / 24).
 */
import { encodeLog, readLog, stateHash, sweepFailNth, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { EMPTY_CD, encodeCd, LINUX_MAIR, dmaRead as smmuDmaRead } from "@iommu-sim/hw-smmu";
import { decodePasidEntry, dmaRead as vtdDmaRead } from "@iommu-sim/hw-vtd";
import { isErrno, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptySystemLog, createSystem, rid } from "../src/index";
import { bytes } from "./harness";
import { invVtd, NestedFixture } from "./nested-support";

const PAGE = 4096n;
const ACCEL = rid(0, 2, 0);
const GPU = rid(0, 1, 0);
const G = 0x10_0000n; // the guest-physical base: IOVA of the buffer in the IOAS
const V = 0x20_0000n; // the guest's IOVA (stage-1 input)
const NEST_PARENT = 1;
const [DATA_VTD_S1, DATA_ARM_SMMUV3, INV_VTD_S1] = [1, 2, 0];
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const [EIO, EINVAL, EOPNOTSUPP] = [-5, -22, -95];
const X86_RW = 0x67n; // P | R/W | U/S | A | D

type Ev = { type: string; data: Record<string, unknown> };

/** A fixture with a bound device, a NEST_PARENT HWPT on the IOAS, and 16 buffer pages at GPA G. */
class Guest extends NestedFixture {
  dev: number;
  parent: number;

  constructor(device: string) {
    super(0);
    this.dev = this.ok({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device } })[0]!.data
      .id as number;
    const [rc, parent] = this.hwptAlloc(this.dev, this.ioas, NEST_PARENT);
    expect(rc).toBe(0);
    this.parent = parent;
    expect(this.map(16n * PAGE, G)[0]).toBe(0);
    this.fillPage(8, 0x88);
    this.fillPage(9, 0x99);
  }

  ok(c: { type: string; data: unknown }): Ev[] {
    const r = this.log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r as unknown as Ev[];
  }

  fillPage(page: number, value: number): void {
    this.poke(this.buffer + BigInt(page) * PAGE, new Uint8Array(4096).fill(value));
  }

  /** Write u64 `value` at byte `offset` of buffer page `page` (= GPA G + page × 4 KiB). */
  writeU64(page: number, offset: number, value: bigint): void {
    this.poke(this.buffer + BigInt(page) * PAGE + BigInt(offset), bytes(8, [[0, 8, value]]));
  }

  gpa(page: number): bigint {
    return G + BigInt(page) * PAGE;
  }

  attach(ptId: number): Ev[] {
    return this.ok({ type: "iommufd.device.attach", data: { ctx: this.fd.ctx, devId: this.dev, ptId } });
  }
}

/**
 * A 4-level x86-64 first stage in buffer pages 0–3 mapping V → buffer page
 * `leaf` (PML4[0] → PDPT[0] → PD[1] → PT[0]).
 */
function vtdGuestTables(g: Guest, leaf: number): void {
  g.writeU64(0, 0, g.gpa(1) | X86_RW);
  g.writeU64(1, 0, g.gpa(2) | X86_RW);
  g.writeU64(2, 8, g.gpa(3) | X86_RW);
  g.writeU64(3, 0, g.gpa(leaf) | X86_RW);
}

/** struct iommu_hwpt_vtd_s1 {u64 flags; u64 pgtbl_addr; u32 addr_width; u32 __reserved}. */
const vtdS1 = (pgtbl: bigint, addrWidth = 48, flags = 0n, reserved = 0) =>
  bytes(24, [
    [0, 8, flags],
    [8, 8, pgtbl],
    [16, 4, addrWidth],
    [20, 4, reserved],
  ]);

function vtdNested(): { g: Guest; nested: number } {
  const g = new Guest("accel0");
  vtdGuestTables(g, 8);
  const [rc, nested] = g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G));
  expect(rc).toBe(0);
  return { g, nested };
}

const read8 = (g: Guest, iova: bigint) =>
  vtdDmaRead(g.log.state, 0, { rid: ACCEL, iova, length: 8, write: false });

describe("VT-d nested HWPT (accel0): stage 1 in guest memory over the NEST_PARENT domain", () => {
  it("programs a nested PASID entry; DMA walks the guest's table through the second stage", () => {
    const { g, nested } = vtdNested();
    const attached = g.attach(nested);
    expect(attached.find((e) => e.type === "vtd.device.attached")?.data).toMatchObject({
      rid: ACCEL,
      pasid: 0,
    });
    const dma = g.ok({
      type: "vtd.dma",
      data: { unit: 0, rid: ACCEL, iova: V + 8n, length: 8, write: false },
    });
    expect(dma.map((e) => e.type)).toContain("vtd.iotlb.filled");
    expect(read8(g, V + 8n)).toEqual(new Uint8Array(8).fill(0x88));
    // The PASID entry the walk cached (RID_PASID 0): PGTT 011b nested, FLPTR the guest's table,
    // DID the nested domain's (VT-d spec 4.1 §9.6).
    const words = dma.find((e) => e.type === "vtd.pasid.cached")!.data.words as bigint[];
    const pe = decodePasidEntry(words[0]!, words[1]!, words[2]!);
    const kobj = g.log.state.iommufd.contexts[g.fd.ctx]!.objects[nested]!.kobj!;
    expect(pe).toMatchObject({
      present: true,
      pgtt: 3,
      flptptr: Number(G),
      did: g.log.state.iommufd.hwDomains[kobj]!.domain,
    });
    expect(pe.slptptr).not.toBe(0);
    // Not mapped by the guest: a first-stage fault (not a second-stage one).
    expect(read8(g, V + 0x1000n)).toMatchObject({ kind: "fault" });
  });

  it("keeps the stale translation after the guest changes its PTE until the right address is invalidated", () => {
    const { g, nested } = vtdNested();
    g.attach(nested);
    g.ok({ type: "vtd.dma", data: { unit: 0, rid: ACCEL, iova: V, length: 8, write: false } }); // fills the IOTLB
    vtdGuestTables(g, 9); // PT[0] → page 9, no invalidation yet
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x88)); // stale
    expect(g.invalidate(nested, invVtd([V + 0x10_0000n, 1n]), INV_VTD_S1, 24, 1)).toEqual([0, 1]);
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x88)); // still stale: another address
    expect(g.invalidate(nested, invVtd([V, 1n, 1]), INV_VTD_S1, 24, 1)).toEqual([0, 1]); // LEAF
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x99)); // fresh
  });

  it("with IOMMU_HWPT_ALLOC_PASID it serves a PASID: requests with PASID 5 walk the guest's table", () => {
    const g = new Guest("accel0");
    vtdGuestTables(g, 8);
    const [rc, nested] = g.hwptAlloc(g.dev, g.parent, 8, DATA_VTD_S1, vtdS1(G)); // IOMMU_HWPT_ALLOC_PASID
    expect(rc).toBe(0);
    g.ok({ type: "iommufd.device.attach", data: { ctx: g.fd.ctx, devId: g.dev, ptId: nested, pasid: 5 } });
    const read = (iova: bigint) =>
      vtdDmaRead(g.log.state, 0, { rid: ACCEL, pasid: 5, iova, length: 8, write: false });
    g.ok({ type: "vtd.dma", data: { unit: 0, rid: ACCEL, pasid: 5, iova: V, length: 8, write: false } });
    expect(read(V)).toEqual(new Uint8Array(8).fill(0x88));
    expect(read8(g, V)).toMatchObject({ kind: "fault" }); // the RID has nothing attached
    vtdGuestTables(g, 9);
    expect(read(V)).toEqual(new Uint8Array(8).fill(0x88)); // stale
    expect(g.invalidate(nested, invVtd([V, 1n]), INV_VTD_S1, 24, 1)).toEqual([0, 1]);
    expect(read(V)).toEqual(new Uint8Array(8).fill(0x99)); // the PASID's entry was invalidated
    // Without the flag a nested HWPT cannot serve a PASID (iommufd_hwpt_pasid_compat: EINVAL).
    const plain = g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G))[1];
    const r = g.log.dispatch({
      type: "iommufd.device.attach",
      data: { ctx: g.fd.ctx, devId: g.dev, ptId: plain, pasid: 6 },
    });
    expect(isErrno(r) && r.name).toBe("EINVAL");
  });

  it("addr 0 + npages U64_MAX invalidates everything of the domain", () => {
    const { g, nested } = vtdNested();
    g.attach(nested);
    g.ok({ type: "vtd.dma", data: { unit: 0, rid: ACCEL, iova: V, length: 8, write: false } });
    vtdGuestTables(g, 9);
    expect(g.invalidate(nested, invVtd([0n, U64_MAX]), INV_VTD_S1, 24, 1)).toEqual([0, 1]);
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x99));
  });

  it("checks each entry as intel_nested_cache_invalidate_user, stopping at the first bad one", () => {
    const { g, nested } = vtdNested();
    g.attach(nested);
    g.ok({ type: "vtd.dma", data: { unit: 0, rid: ACCEL, iova: V, length: 8, write: false } });
    vtdGuestTables(g, 9);
    expect(g.invalidate(nested, invVtd([V, 1n]), 0xdeadbeef, 24, 1)).toEqual([EINVAL, 0]); // data type
    expect(g.invalidate(nested, invVtd([V, 1n]), INV_VTD_S1, 23, 1)).toEqual([EINVAL, 0]); // entry_len < 24
    expect(g.invalidate(nested, invVtd([V + 8n, 1n]), INV_VTD_S1, 24, 1)).toEqual([EINVAL, 0]); // unaligned
    expect(g.invalidate(nested, invVtd([V, U64_MAX]), INV_VTD_S1, 24, 1)).toEqual([EINVAL, 0]); // U64_MAX, addr ≠ 0
    expect(g.invalidate(nested, invVtd([V, 1n, 2]), INV_VTD_S1, 24, 1)).toEqual([EOPNOTSUPP, 0]); // flags
    const reserved = invVtd([V, 1n]);
    reserved[20] = 1;
    expect(g.invalidate(nested, reserved, INV_VTD_S1, 24, 1)).toEqual([EOPNOTSUPP, 0]); // __reserved
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x88)); // nothing was invalidated
    // Entry 0 is done (the fresh translation appears), entry 1's flags stop it: entry_num 1.
    expect(g.invalidate(nested, invVtd([V, 1n], [V, 1n, 4]), INV_VTD_S1, 24, 2)).toEqual([EOPNOTSUPP, 1]);
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x99));
    // A paging HWPT takes no user invalidation (Linux ≥ 6.13: EINVAL).
    expect(g.invalidate(g.parent, invVtd([V, 1n]), INV_VTD_S1, 24, 1)).toEqual([EINVAL, 0]);
  });

  it("refuses bad iommu_hwpt_vtd_s1 data and parents with Linux's errnos", () => {
    const g = new Guest("accel0");
    const ok = vtdS1(G);
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, ok)[0]).toBe(EOPNOTSUPP); // another driver's type
    expect(g.hwptAlloc(g.dev, g.parent, 0, 0xdead, ok)[0]).toBe(EOPNOTSUPP);
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, ok, 23)[0]).toBe(EINVAL); // short
    const longer = new Uint8Array(32);
    longer.set(ok);
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, longer)[0]).toBe(EINVAL); // longer, zero tail
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G, 48, 8n))[0]).toBe(EOPNOTSUPP); // unknown flag
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G, 48, 0n, 1))[0]).toBe(EOPNOTSUPP); // __reserved
    const [rc, plain] = g.hwptAlloc(g.dev, g.ioas, 0);
    expect(rc).toBe(0);
    expect(g.hwptAlloc(g.dev, plain, 0, DATA_VTD_S1, ok)[0]).toBe(EINVAL); // not NEST_PARENT
    // A 39-bit first stage is allocated, but cannot be attached (intel_pasid_setup_nested: EINVAL).
    const [rc39, n39] = g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G, 39));
    expect(rc39).toBe(0);
    const r = g.log.dispatch({
      type: "iommufd.device.attach",
      data: { ctx: g.fd.ctx, devId: g.dev, ptId: n39 },
    });
    expect(isErrno(r) && r.name).toBe("EINVAL");
  });

  it("replace moves the device between its parent (GPA = IOVA) and the nested HWPT (guest IOVA) in one step", () => {
    const { g, nested } = vtdNested();
    g.attach(g.parent);
    const gpa8 = G + 8n * PAGE;
    expect(read8(g, gpa8)).toEqual(new Uint8Array(8).fill(0x88)); // second stage only
    const replace = (ptId: number) =>
      g.ok({ type: "iommufd.device.replace", data: { ctx: g.fd.ctx, devId: g.dev, ptId } });
    replace(nested);
    expect(read8(g, V)).toEqual(new Uint8Array(8).fill(0x88)); // guest IOVA through both stages
    expect(read8(g, gpa8)).toMatchObject({ kind: "fault" }); // not in the guest's table
    replace(g.parent);
    expect(read8(g, V)).toMatchObject({ kind: "fault" }); // not in the IOAS
    expect(g.destroy(nested)).toBe(0);
  });

  it("detach, destroy and close free the nested domain; the parent goes last", () => {
    const { g, nested } = vtdNested();
    g.attach(nested);
    expect(g.destroy(g.parent)).toBe(-16); // EBUSY: the nested HWPT uses it
    expect(g.destroy(nested)).toBe(-16); // EBUSY: attached
    g.ok({ type: "iommufd.device.detach", data: { ctx: g.fd.ctx, devId: g.dev } });
    expect(g.destroy(nested)).toBe(0);
    expect(g.log.state.vtd.units.get(0)!.domains.size).toBe(1); // the parent only
    const again = g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, vtdS1(G))[1];
    g.attach(again);
    expect(g.fd.close()).not.toHaveProperty("code");
    expect(g.log.state.vtd.units.get(0)!.domains.size).toBe(0);
    expect(g.log.state.iommufd.hwDomains).toEqual({});
  });
});

/** VMSAv8-64 stage-1 descriptors: table (0b11) and 4 KiB page (0b11 | AF | SH inner | AP[1] EL0). */
const ARM_TABLE = 0b11n;
const ARM_PAGE = 0b11n | (1n << 10n) | (3n << 8n) | (1n << 6n);

/**
 * The guest's SMMU structures in buffer pages 0–4: a CD at page 0 (TTB0 =
 * page 1), a 4-level 4 KiB-granule table mapping V → buffer page `leaf`
 * (L0[0] → L1[0] → L2[1] → L3[0]).
 */
function smmuGuestTables(g: Guest, leaf: number): void {
  const cd = encodeCd({
    ...EMPTY_CD,
    t0sz: 16,
    tg0: 0,
    ir0: 1,
    or0: 1,
    sh0: 3,
    epd1: true,
    v: true,
    ips: 5,
    aa64: true,
    r: true,
    a: true,
    aset: true,
    asid: 7,
    ttb0: Number(g.gpa(1)),
    mair: LINUX_MAIR,
  });
  cd.forEach((w, i) => {
    g.writeU64(0, 8 * i, w);
  });
  g.writeU64(1, 0, g.gpa(2) | ARM_TABLE);
  g.writeU64(2, 0, g.gpa(3) | ARM_TABLE);
  g.writeU64(3, 8, g.gpa(4) | ARM_TABLE);
  g.writeU64(4, 0, g.gpa(leaf) | ARM_PAGE);
}

/** struct iommu_hwpt_arm_smmuv3 {__le64 ste[2]}: V, Config = stage 1 (0b101), S1ContextPtr = the CD's GPA. */
const guestSte = (w0 = 1n | (0b101n << 1n) | G, w1 = 0n) =>
  bytes(16, [
    [0, 8, w0],
    [8, 8, w1],
  ]);

describe("SMMUv3 nested HWPT (gpu0): the guest's STE, CD and stage 1 over the stage-2 parent", () => {
  it("DMA translates through the guest's stage 1 and the parent's stage 2", () => {
    const g = new Guest("gpu0");
    smmuGuestTables(g, 8);
    const [rc, nested] = g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, guestSte());
    expect(rc).toBe(0);
    g.attach(nested);
    const dma = g.ok({
      type: "smmu.dma",
      data: { instance: 0, sid: GPU, iova: V + 8n, length: 8, write: false },
    });
    // The STE the SMMU fetched: Config 0b111 (stage 1 + stage 2), S1ContextPtr = the guest's CD (IHI 0070 §5.2).
    const ste = dma.find((e) => e.type === "smmu.ste.filled")!.data.ste as bigint[];
    expect((ste[0]! >> 1n) & 7n).toBe(7n);
    expect(ste[0]! & ((1n << 52n) - (1n << 6n))).toBe(G);
    expect(dma.map((e) => e.type)).toContain("smmu.tlb.filled");
    expect(smmuDmaRead(g.log.state, 0, { sid: GPU, iova: V + 8n, length: 8 })).toEqual(
      new Uint8Array(8).fill(0x88),
    );
    // An IOVA the guest did not map faults.
    expect(smmuDmaRead(g.log.state, 0, { sid: GPU, iova: V + 0x1000n, length: 8 })).toMatchObject({
      ok: false,
    });
    // No cache_invalidate_user on SMMUv3 nested domains: EOPNOTSUPP, entry_num 0.
    expect(g.invalidate(nested, new Uint8Array(16), 1, 16, 1)).toEqual([EOPNOTSUPP, 0]);
  });

  it("refuses what arm_vsmmu_alloc_domain_nested and arm_smmu_validate_vste refuse", () => {
    const g = new Guest("gpu0");
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_VTD_S1, new Uint8Array(24))[0]).toBe(EINVAL); // data type
    expect(g.hwptAlloc(g.dev, g.parent, 8, DATA_ARM_SMMUV3, guestSte())[0]).toBe(EOPNOTSUPP); // ALLOC_PASID
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, guestSte(), 15)[0]).toBe(EINVAL); // short
    const longer = new Uint8Array(24);
    longer.set(guestSte());
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, longer)[0]).toBe(EINVAL); // longer
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, guestSte(1n | (0b110n << 1n)))[0]).toBe(EIO); // Config S2
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, guestSte(undefined, 1n << 40n))[0]).toBe(EIO); // not allowed
    expect(g.hwptAlloc(g.dev, g.parent, 0, DATA_ARM_SMMUV3, guestSte(undefined, 2n << 28n))[0]).toBe(EIO); // EATS 2
    const [rc, plain] = g.hwptAlloc(g.dev, g.ioas, 0);
    expect(rc).toBe(0);
    expect(g.hwptAlloc(g.dev, plain, 0, DATA_ARM_SMMUV3, guestSte())[0]).toBe(EINVAL); // stage-1 parent
    // A VT-d device cannot nest on the SMMU's parent (another IOMMU).
    const accel = g.ok({ type: "iommufd.device.bind", data: { ctx: g.fd.ctx, device: "accel0" } })[0]!.data
      .id as number;
    expect(g.hwptAlloc(accel, g.parent, 0, DATA_VTD_S1, vtdS1(G))[0]).toBe(EINVAL);
  });
});

describe("the log of a nested session", () => {
  it("round-trips through JSON Lines (validated) and replays to the same state hash", async () => {
    const { g, nested } = vtdNested();
    g.attach(nested);
    g.ok({ type: "vtd.dma", data: { unit: 0, rid: ACCEL, iova: V, length: 8, write: false } });
    vtdGuestTables(g, 9);
    expect(g.invalidate(nested, invVtd([V, 1n], [V, 1n, 4]), INV_VTD_S1, 24, 2)).toEqual([EOPNOTSUPP, 1]);
    const opened = await readLog(textSource(encodeLog(g.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
    });
    const fresh = createEmptySystemLog();
    for await (const batch of opened.batches) fresh.append(batch);
    expect(stateHash(fresh.state)).toBe(stateHash(g.log.state));
    const replayed = vtdDmaRead(fresh.state, 0, { rid: ACCEL, iova: V, length: 8, write: false });
    expect(replayed).toEqual(new Uint8Array(8).fill(0x99));
  });
});

describe("fail-nth over the nested sequence", () => {
  it("every fallible step of nested alloc + attach + invalidate fails cleanly; close frees everything", () => {
    const { g, nested } = vtdNested();
    const system = createSystem();
    const ctx = g.fd.ctx;
    // Allocation: each fault point fails with nothing left behind.
    const s1 = vtdS1(G);
    const alloc = {
      type: "iommufd.hwpt.alloc",
      data: { ctx, devId: g.dev, ptId: g.parent, flags: 0, dataType: DATA_VTD_S1, dataLen: 24, data: s1 },
    };
    const sweep = sweepFailNth(system, g.log.state, alloc as never);
    expect(sweep.sites).toEqual(expect.arrayContaining(["iommufd.hwpt_nested_alloc", "vtd.domain_alloc"]));
    // Through the log: the state hash is unchanged after every injected failure.
    const before = stateHash(g.log.state);
    for (let n = 1; n <= sweep.sites.length; n++) {
      g.log.failNth(n);
      expect(isErrno(g.log.dispatch(alloc as never))).toBe(true);
      expect(stateHash(g.log.state)).toBe(before);
    }
    // Attach: its table allocations and the driver's steps.
    const attach = { type: "iommufd.device.attach", data: { ctx, devId: g.dev, ptId: nested } };
    const attachSweep = sweepFailNth(system, g.log.state, attach as never);
    expect(attachSweep.sites.length).toBeGreaterThan(0);
    g.attach(nested);
    const inv = {
      type: "iommufd.hwpt.invalidate",
      data: { ctx, hwptId: nested, dataType: INV_VTD_S1, entryLen: 24, entryNum: 1, data: invVtd([V, 1n]) },
    };
    // No fallible step: Linux's cache_invalidate_user allocates nothing.
    expect(sweepFailNth(system, g.log.state, inv as never).steps).toBe(0);
    expect(isErrno(g.log.dispatch(inv as never))).toBe(false);
    expect(g.fd.close()).not.toHaveProperty("code");
    const s = g.log.state;
    expect(s.iommufd.contexts).toEqual({});
    expect(s.iommufd.hwDomains).toEqual({});
    expect(s.vtd.units.get(0)!.domains.size).toBe(0);
    expect(s.iopt.ioas.size).toBe(0);
  });

  it("a mock nested sequence leaves no trace when any step fails", () => {
    const f = new NestedFixture(1);
    const system = createSystem();
    const [, parent] = f.hwptAlloc(f.idev, f.ioas, NEST_PARENT);
    const alloc = {
      type: "iommufd.hwpt.alloc",
      data: {
        ctx: f.fd.ctx,
        devId: f.idev,
        ptId: parent,
        flags: 0,
        dataType: 0xdead,
        dataLen: 4,
        data: bytes(4, [[0, 4, 7]]),
      },
    };
    const sweep = sweepFailNth(system, f.log.state, alloc as never);
    expect(sweep.sites).toEqual(["iommufd.hwpt_nested_alloc", "selftest.nested_domain_alloc"]);
  });
});
