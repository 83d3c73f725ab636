/**
 * IO page-table memory as a real limit (drivers/table-budget.ts): Linux's
 * iommu_map() fails with -ENOMEM when the driver cannot allocate a table
 * page, and iommufd unwinds (io_pagetable.c iopt_area_fill_domains() for
 * IOMMU_IOAS_MAP / COPY, iopt_fill_domain() for attach and HWPT_ALLOC):
 * the command fails with ENOMEM and changes nothing — no area, no pin, no
 * object, no table. Here on a platform whose VT-d unit 0 and SMMU
 * instance 0 have a few spare table frames, without fault injection.
 *
 * Golden table counts (the ones pt-alloc-fail-nth.test.ts pins as fault
 * points): VT-d unit 0 has the 5-level (57-bit) second stage (VT-d spec
 * 3.4 §3.7), so a first 4 KiB map allocates 4 tables (levels 4..1); the
 * SMMUv3 48-bit input with the 4 KiB granule (Arm ARM D8.2) 3 (levels
 * 1..3). A page under an existing leaf table needs none; one in the next
 * 2 MiB 1 (its leaf table); one 1 GiB away 2 (VT-d and SMMU alike).
 * Both give back (to the unit's free list) the tables an unmap covers
 * whole and a freed domain's: VT-d as generic_pt's `__unmap_range()`,
 * SMMUv3 as io-pgtable-arm's `__arm_lpae_free_pgtable()`.
 */
import { type EventLog, type Message, stateHash } from "@iommu-sim/eventlog";
import { dmaRead as smmuDmaRead, framesAvailable as smmuFrames } from "@iommu-sim/hw-smmu";
import { dmaRead as vtdDmaRead, framesAvailable as vtdFrames } from "@iommu-sim/hw-vtd";
import { type Errno, IOMMU_IOCTL, isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEmptySystemLog, rid, SMMU_TABLE_BASE, type SystemState, VTD_TABLE_BASE } from "../src/index";
import { bytes, IommuFd } from "./harness";

type Log = EventLog<Message, Message, SystemState>;

const PAGE = 4096n;
const MiB = 0x10_0000n;
const GiB = 0x4000_0000n;
const PID = 100;
const BUF_PAGES = 16;
const FLAGS = 7; // IOMMU_IOAS_MAP_FIXED_IOVA | WRITEABLE | READABLE
const NIC = rid(3, 0, 0); // nic0, on VT-d unit 0
const GPU = rid(0, 1, 0); // gpu0, on SMMU instance 0
const DEFAULT_VTD_FRAMES = 262_144; // hw-vtd's default: 1 GiB
const DEFAULT_SMMU_FRAMES = 262_144; // the platform's 1 GiB

const vtdFree = (s: SystemState) => vtdFrames(s.vtd.units.get(0)!);
const smmuFree = (s: SystemState) => smmuFrames(s.smmu.instances.get(0)!);

function must(r: readonly Message[] | Errno, what: string): readonly Message[] {
  if (isErrno(r)) throw new Error(`${what}: ${r}`);
  return r;
}

/** The default platform's units with `vtdFrames` / `smmuFrames` frames of table memory. */
class System {
  readonly log: Log = createEmptySystemLog() as Log;
  readonly ctx: number;
  /** User VA of a 16-page buffer of process 100, page i filled with byte i + 1. */
  readonly buffer: bigint;
  readonly devs = new Map<string, number>();

  constructor(vtdFrames = DEFAULT_VTD_FRAMES, smmuFrames = DEFAULT_SMMU_FRAMES) {
    const unit = { unit: 0, tableBase: VTD_TABLE_BASE, tableFrames: vtdFrames };
    must(this.log.dispatch({ type: "vtd.unit.add", data: unit }), "vtd unit");
    const inst = { instance: 0, tableBase: SMMU_TABLE_BASE, tableSize: BigInt(smmuFrames) * PAGE };
    must(this.log.dispatch({ type: "smmu.instance.add", data: inst }), "smmu instance");
    must(this.log.dispatch({ type: "mm.spawn", data: { pid: PID } }), "spawn");
    const length = BigInt(BUF_PAGES) * PAGE;
    const m = must(
      this.log.dispatch({ type: "mm.mmap", data: { pid: PID, length, prot: 3, shared: true } }),
      "mmap",
    );
    this.buffer = (m[0]!.data as { addr: bigint }).addr;
    const pattern = Uint8Array.from({ length: Number(length) }, (_, i) => (i >> 12) + 1);
    must(
      this.log.dispatch({ type: "mm.write", data: { pid: PID, va: this.buffer, bytes: pattern } }),
      "write",
    );
    const o = must(this.log.dispatch({ type: "iommufd.open", data: { pid: PID, vfio: false } }), "open");
    this.ctx = (o[0]!.data as { ctx: number }).ctx;
    for (const device of ["nic0", "gpu0"]) {
      const b = must(
        this.log.dispatch({ type: "iommufd.device.bind", data: { ctx: this.ctx, device } }),
        "bind",
      );
      this.devs.set(device, (b[0]!.data as { id: number }).id);
    }
  }

  /** A new IOAS: [its object id, iopt's IOAS id]. */
  ioas(): [number, number] {
    const ev = must(this.log.dispatch({ type: "iommufd.ioas.alloc", data: { ctx: this.ctx } }), "ioas");
    const obj = ev.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
    const created = ev.find((e) => e.type === "ioas.created")!.data as { ioas: number };
    return [obj.id, created.ioas];
  }

  attach(device: string, ptId: number): readonly Message[] | Errno {
    const devId = this.devs.get(device)!;
    return this.log.dispatch({ type: "iommufd.device.attach", data: { ctx: this.ctx, devId, ptId } });
  }

  detach(device: string): readonly Message[] | Errno {
    const devId = this.devs.get(device)!;
    return this.log.dispatch({ type: "iommufd.device.detach", data: { ctx: this.ctx, devId } });
  }

  /** `pages` pages of the buffer from page `bufPage` at `iova` of iopt IOAS `ioas`. */
  map(ioas: number, iova: bigint, pages: number, bufPage = 0): readonly Message[] | Errno {
    const userVa = this.buffer + BigInt(bufPage) * PAGE;
    const length = BigInt(pages) * PAGE;
    return this.log.dispatch({
      type: "ioas.map",
      data: { ioas, pid: PID, userVa, length, iova, flags: FLAGS },
    });
  }

  unmap(ioas: number, iova: bigint, pages: number): readonly Message[] | Errno {
    return this.log.dispatch({ type: "ioas.unmap", data: { ioas, iova, length: BigInt(pages) * PAGE } });
  }

  /** What nic0 (VT-d) and gpu0 (SMMU) read at `iova`: the buffer page's fill byte, or "fault". */
  reads(iova: bigint): [number | "fault", number | "fault"] {
    const s = this.log.state;
    const v = vtdDmaRead(s as never, 0, { rid: NIC, iova, length: 1, write: false });
    const m = smmuDmaRead(s as never, 0, { sid: GPU, iova, length: 1 });
    return [v instanceof Uint8Array ? v[0]! : "fault", m instanceof Uint8Array ? m[0]! : "fault"];
  }
}

/** Table frames `device`'s first attach to an empty IOAS takes (its domain's root, context/PASID or STE/CD tables). */
function attachFrames(device: "nic0" | "gpu0"): number {
  const sys = new System();
  const before = device === "nic0" ? vtdFree(sys.log.state) : smmuFree(sys.log.state);
  must(sys.attach(device, sys.ioas()[0]), "attach");
  return before - (device === "nic0" ? vtdFree(sys.log.state) : smmuFree(sys.log.state));
}

/** The frames the unit adds reserve before any attach: VT-d root table + 16 PRQ frames; the SMMU's stream table. */
function baseFrames(device: "nic0" | "gpu0"): number {
  const sys = new System();
  return device === "nic0"
    ? DEFAULT_VTD_FRAMES - vtdFree(sys.log.state)
    : DEFAULT_SMMU_FRAMES - smmuFree(sys.log.state);
}

/** Table memory for `device`'s unit that leaves exactly `spare` frames once it is attached to an empty IOAS. */
function sized(device: "nic0" | "gpu0", spare: number): number {
  return baseFrames(device) + attachFrames(device) + spare;
}

/** The command failed with ENOMEM and changed nothing. */
function refused(log: Log, run: () => readonly Message[] | Errno, unit?: string): void {
  const before = stateHash(log.state);
  const pages = log.state.iopt.pages.size;
  const r = run();
  expect(isErrno(r) ? r.name : "accepted").toBe("ENOMEM");
  if (unit !== undefined) expect((r as Errno).reason).toContain(unit);
  expect(stateHash(log.state)).toBe(before);
  expect(log.state.iopt.pages.size).toBe(pages);
}

const accepted = (r: readonly Message[] | Errno) => expect(isErrno(r) ? `${r}` : "ok").toBe("ok");

describe("a map whose IO page tables do not fit in the unit's table memory fails with ENOMEM", () => {
  it("VT-d: maps that fit (4, 0, 2 tables), then one needing 1 more than the 6 spare frames", () => {
    const sys = new System(sized("nic0", 6));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    accepted(sys.map(ioas, MiB, 1));
    expect(vtdFree(sys.log.state)).toBe(2);
    accepted(sys.map(ioas, MiB + PAGE, 1, 1));
    accepted(sys.map(ioas, GiB + MiB, 1, 2));
    expect(vtdFree(sys.log.state)).toBe(0);
    refused(sys.log, () => sys.map(ioas, 3n * MiB, 1, 3), "VT-d unit 0: IO page-table memory exhausted");
    expect(sys.reads(MiB)).toEqual([1, "fault"]);
    expect(sys.reads(3n * MiB)).toEqual(["fault", "fault"]);
  });

  it("SMMUv3: maps that fit (3, 0, 2 tables), then one needing 1 more than the 5 spare frames", () => {
    const sys = new System(DEFAULT_VTD_FRAMES, sized("gpu0", 5));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("gpu0", pt));
    accepted(sys.map(ioas, MiB, 1));
    accepted(sys.map(ioas, MiB + PAGE, 1, 1));
    accepted(sys.map(ioas, GiB + MiB, 1, 2));
    expect(smmuFree(sys.log.state)).toBe(0);
    refused(sys.log, () => sys.map(ioas, 3n * MiB, 1, 3), "SMMU instance 0: IO page-table memory exhausted");
    expect(sys.reads(GiB + MiB)).toEqual(["fault", 3]);
  });

  it("under fault injection too: the pt_alloc steps are taken as before, then the table memory refuses", () => {
    const sys = new System(sized("nic0", 3));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    sys.log.failNth(1_000_000); // armed beyond reach: every step passes and is recorded
    refused(
      sys.log,
      () => sys.map(ioas, MiB, 1),
      "VT-d unit 0: IO page-table memory exhausted (4 table pages needed, 3 free)",
    );
    expect(sys.log.lastSteps.sites.filter((x) => x.endsWith(".pt_alloc"))).toEqual(
      Array(4).fill("vtd.pt_alloc"),
    );
  });

  it("at the ABI: IOMMU_IOAS_MAP returns -ENOMEM (-12)", () => {
    const sys = new System(sized("nic0", 3));
    const [pt] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    const fd = new IommuFd(sys.log, sys.ctx);
    // struct iommu_ioas_map {size, flags, ioas_id, __reserved, user_va, length, iova}: 40 bytes
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, FLAGS],
      [8, 4, pt],
      [16, 8, sys.buffer],
      [24, 8, PAGE],
      [32, 8, MiB],
    ]);
    const before = stateHash(sys.log.state);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg)).toBe(-12);
    expect(stateHash(sys.log.state)).toBe(before);
  });

  it("one command, two units: refused when either is short, naming it; the other unit's tables untouched", () => {
    const sys = new System(DEFAULT_VTD_FRAMES, sized("gpu0", 2));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    accepted(sys.attach("gpu0", pt));
    const vtdBefore = vtdFree(sys.log.state);
    refused(sys.log, () => sys.map(ioas, MiB, 1), "SMMU instance 0");
    expect(vtdFree(sys.log.state)).toBe(vtdBefore);
  });

  it("two domains on one unit are summed: 4 + 4 > 6, though each alone would fit", () => {
    const sys = new System(sized("nic0", 6 + 1));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    // A second VT-d domain on the IOAS: IOMMU_HWPT_ALLOC (its root table is the 7th spare frame).
    const devId = sys.devs.get("nic0")!;
    const hwpt = { ctx: sys.ctx, devId, ptId: pt, flags: 0, dataType: 0, dataLen: 0 };
    accepted(sys.log.dispatch({ type: "iommufd.hwpt.alloc", data: hwpt }));
    expect(vtdFree(sys.log.state)).toBe(6);
    refused(sys.log, () => sys.map(ioas, MiB, 1), "8 table pages needed, 6 free");
  });

  it("IOMMU_IOAS_COPY into an IOAS whose domain cannot hold the copy: ENOMEM", () => {
    const sys = new System(sized("nic0", 3));
    const [, src] = sys.ioas();
    const [dstPt, dst] = sys.ioas();
    accepted(sys.attach("nic0", dstPt));
    accepted(sys.map(src, MiB, 2));
    const copy = { dstIoas: dst, srcIoas: src, srcIova: MiB, dstIova: MiB, length: 2n * PAGE, flags: FLAGS };
    refused(sys.log, () => sys.log.dispatch({ type: "ioas.copy", data: copy }), "VT-d unit 0");
  });
});

describe("frames come back with an unmap that covers a table, and with the domain", () => {
  it.each([
    ["nic0", "VT-d unit 0", 4, "generic_pt __unmap_range()"],
    ["gpu0", "SMMU instance 0", 3, "io-pgtable-arm __arm_lpae_free_pgtable()"],
  ] as const)(
    "%s: unmapping a 2 MiB area frees its leaf table, and the map that failed fits (%s, %i tables; %s)",
    (device, unit, tables, _source) => {
      const sys =
        device === "nic0"
          ? new System(sized(device, tables))
          : new System(DEFAULT_VTD_FRAMES, sized(device, tables));
      const free = () => (device === "nic0" ? vtdFree(sys.log.state) : smmuFree(sys.log.state));
      const [pt, ioas] = sys.ioas();
      accepted(sys.attach(device, pt));
      // 2 MiB of 4 KiB pages (from a buffer's second page: never 2 MiB aligned, so no superpage) at 2 MiB.
      const m = must(
        sys.log.dispatch({ type: "mm.mmap", data: { pid: PID, length: 513n * PAGE, prot: 3, shared: true } }),
        "mmap",
      );
      const big = (m[0]!.data as { addr: bigint }).addr + PAGE;
      const map2M = { ioas, pid: PID, userVa: big, length: 2n * MiB, iova: 2n * MiB, flags: FLAGS };
      accepted(sys.log.dispatch({ type: "ioas.map", data: map2M }));
      expect(free()).toBe(0);
      refused(sys.log, () => sys.map(ioas, 4n * MiB, 1), unit);
      accepted(sys.unmap(ioas, 2n * MiB, 512));
      expect(free()).toBe(1);
      accepted(sys.map(ioas, 4n * MiB, 1));
      expect(sys.reads(4n * MiB)[device === "nic0" ? 0 : 1]).toBe(1);
    },
  );

  it("a 4 KiB unmap keeps its leaf table (the same IOVA maps again with 0 free); detach frees all; a too big fill is refused", () => {
    const sys = new System(sized("nic0", 6));
    const [pt, ioas] = sys.ioas();
    accepted(sys.attach("nic0", pt));
    accepted(sys.map(ioas, MiB, 1));
    accepted(sys.map(ioas, MiB + PAGE, 1, 1));
    accepted(sys.map(ioas, GiB + MiB, 1, 2));
    accepted(sys.unmap(ioas, MiB, 1));
    expect(vtdFree(sys.log.state)).toBe(0);
    accepted(sys.map(ioas, MiB, 1, 4));
    expect(sys.reads(MiB)).toEqual([5, "fault"]);
    // Detach: the auto domain goes, its root and 6 tables to the unit's free list.
    accepted(sys.detach("nic0"));
    expect(vtdFree(sys.log.state)).toBe(7);
    accepted(sys.map(ioas, 3n * MiB, 1, 3));
    // Attach again: a new root (1) plus the fill of 4 areas (4 + 0 + 2 + 1 tables) is 8 > 7.
    refused(sys.log, () => sys.attach("nic0", pt));
    // Without the 1 GiB area the fill needs 5: it fits, and every area translates.
    accepted(sys.unmap(ioas, GiB + MiB, 1));
    accepted(sys.attach("nic0", pt));
    expect(vtdFree(sys.log.state)).toBe(1);
    expect(sys.reads(MiB)[0]).toBe(5);
    expect(sys.reads(MiB + PAGE)[0]).toBe(2);
    expect(sys.reads(3n * MiB)[0]).toBe(4);
  });

  it("SMMUv3: detach frees the domain's tables; an attach filling a new domain from a big IOAS: ENOMEM", () => {
    const sys = new System(DEFAULT_VTD_FRAMES, sized("gpu0", 4));
    // A first attach leaves gpu0's STE and CD tables behind; its domain's level-0 table comes back.
    const [first] = sys.ioas();
    accepted(sys.attach("gpu0", first));
    accepted(sys.detach("gpu0"));
    expect(smmuFree(sys.log.state)).toBe(5);
    const [pt, ioas] = sys.ioas();
    accepted(sys.map(ioas, MiB, 1));
    accepted(sys.map(ioas, GiB + MiB, 1, 1));
    // A new level-0 table (1), then a fill of 3 + 2 tables with 4 left.
    refused(
      sys.log,
      () => sys.attach("gpu0", pt),
      "SMMU instance 0: IO page-table memory exhausted (5 table pages needed, 4 free)",
    );
    accepted(sys.unmap(ioas, GiB + MiB, 1));
    accepted(sys.attach("gpu0", pt));
    expect(smmuFree(sys.log.state)).toBe(1);
    expect(sys.reads(MiB)).toEqual(["fault", 1]);
  });

  it("SMMUv3 IOMMU_HWPT_ALLOC on a big IOAS: ENOMEM, no HWPT object", () => {
    // The new domain's level-0 table and 2 frames: its fill needs 3.
    const sys = new System(DEFAULT_VTD_FRAMES, baseFrames("gpu0") + 1 + 2);
    const [pt, ioas] = sys.ioas();
    accepted(sys.map(ioas, MiB, 1));
    const devId = sys.devs.get("gpu0")!;
    const hwpt = { ctx: sys.ctx, devId, ptId: pt, flags: 0, dataType: 0, dataLen: 0 };
    refused(sys.log, () => sys.log.dispatch({ type: "iommufd.hwpt.alloc", data: hwpt }), "SMMU instance 0");
  });
});

/**
 * The tables each unit holds, as a naive model: a page at 4 KiB page
 * number p needs the tables covering p at each level below the root
 * (VT-d 5-level: 2 MiB, 1 GiB, 512 GiB and 256 TiB of IOVA per table;
 * SMMU: 2 MiB, 1 GiB, 512 GiB), each allocated once, never freed.
 */
class TableModel {
  readonly tables = new Set<string>();
  constructor(
    readonly levels: number,
    public free: number,
  ) {}
  /** The tables mapping these pages would add. */
  needs(pages: readonly number[]): string[] {
    const out = new Set<string>();
    for (const p of pages)
      for (let k = 1; k < this.levels; k++) {
        const key = `${k}:${Math.floor(p / 512 ** k)}`;
        if (!this.tables.has(key)) out.add(key);
      }
    return [...out];
  }
}

describe("property: the IOAS and the hardware tables never disagree (fast-check)", () => {
  it("random MAP/UNMAP on small units: a map fails (ENOMEM, no change) exactly when a unit lacks frames", () => {
    const vtdSpare = 9;
    const smmuSpare = 7;
    const vtdSize = sized("nic0", vtdSpare);
    const smmuSize = sized("gpu0", smmuSpare);
    // Slot i: 4 pages at 1 MiB + i × (1 GiB + 2 MiB) — each slot under tables of its own below 512 GiB.
    const slotIova = (i: number) => MiB + BigInt(i) * (GiB + 2n * MiB);
    const op = fc.record({ slot: fc.integer({ min: 0, max: 5 }), pages: fc.integer({ min: 1, max: 4 }) });
    let refusals = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 14 }), (ops) => {
        const sys = new System(vtdSize, smmuSize);
        const [pt, ioas] = sys.ioas();
        accepted(sys.attach("nic0", pt));
        accepted(sys.attach("gpu0", pt));
        const vtdModel = new TableModel(5, vtdSpare);
        const smmuModel = new TableModel(4, smmuSpare);
        const mapped = new Map<number, number>(); // slot → pages
        for (const { slot, pages } of ops) {
          const iova = slotIova(slot);
          const have = mapped.get(slot);
          if (have !== undefined) {
            accepted(sys.unmap(ioas, iova, have));
            mapped.delete(slot);
          } else {
            const first = Number(iova / PAGE);
            const nums = Array.from({ length: pages }, (_, i) => first + i);
            const nv = vtdModel.needs(nums);
            const ns = smmuModel.needs(nums);
            if (nv.length > vtdModel.free || ns.length > smmuModel.free) {
              refused(sys.log, () => sys.map(ioas, iova, pages, slot));
              refusals++;
            } else {
              accepted(sys.map(ioas, iova, pages, slot));
              for (const [m, n] of [
                [vtdModel, nv],
                [smmuModel, ns],
              ] as const) {
                for (const k of n) m.tables.add(k);
                m.free -= n.length;
              }
              mapped.set(slot, pages);
            }
          }
          expect(vtdFree(sys.log.state)).toBe(vtdModel.free);
          expect(smmuFree(sys.log.state)).toBe(smmuModel.free);
          // Every IOVA page of every slot: the buffer page the IOAS maps there, through both units, or a fault.
          for (let s = 0; s <= 5; s++)
            for (let i = 0; i < 4; i++) {
              const n = mapped.get(s);
              const want = n !== undefined && i < n ? s + i + 1 : "fault";
              expect(sys.reads(slotIova(s) + BigInt(i) * PAGE)).toEqual([want, want]);
            }
        }
      }),
      { numRuns: 40 },
    );
    expect(refusals).toBeGreaterThan(0);
  });
});
