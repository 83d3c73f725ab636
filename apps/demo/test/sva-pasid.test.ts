/**
 * A PASID from @iommu-sim/ioasid reaching the VT-d hardware table
 * (issue: ioasid, "a test shows an SVA bond's PASID reaching the hardware
 * table"). SVA bind allocates the process's PASID and does what Linux's
 * intel_svm_set_dev_pasid() does with it — an SVA (first-stage) domain over
 * the process page table, attached to the device at that PASID — which
 * programs the scalable-mode PASID table. The test then walks the structures itself from
 * the unit's RTADDR, with the spec's layouts (VT-d 4.1 §9.2 root entry:
 * lower/upper context tables for devfn < 128 / ≥ 128; §9.4 context entry,
 * 32 bytes; §9.5 PASID directory, 8-byte entries for PASID >> 6; §9.6 PASID
 * entry, 64 bytes for PASID & 0x3f).
 */
import { createLog, type FrameStore } from "@iommu-sim/eventlog";
import { decodeContextEntry, decodePasidEntry, decodeRootEntry, PGTT, type VtdUnit } from "@iommu-sim/hw-vtd";
import { createSystem, DEFAULT_PLATFORM } from "@iommu-sim/iommufd";
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";

const accel = DEFAULT_PLATFORM.devices.find((d) => d.name === "accel0")!;
/** The PASID-table entry hardware would use for (rid, pasid), found by walking from RTADDR. */
function walkToPasidEntry(unit: VtdUnit, rid: number, pasid: number) {
  const mem: FrameStore = unit.tables;
  const bus = rid >> 8;
  const devfn = rid & 0xff;
  const root = decodeRootEntry(
    mem.readU64(unit.rootTable + bus * 16),
    mem.readU64(unit.rootTable + bus * 16 + 8),
  );
  const ctp = devfn < 128 ? root.lowerCtp : root.upperCtp;
  const ce = ctp + (devfn % 128) * 32;
  const context = decodeContextEntry(mem.readU64(ce), mem.readU64(ce + 8));
  const dirEntry = mem.readU64(context.pasidDirPtr + (pasid >> 6) * 8);
  expect(dirEntry & 1n).toBe(1n); // present
  const table = Number(dirEntry & ~0xfffn);
  const pe = table + (pasid & 0x3f) * 64;
  return { context, entry: decodePasidEntry(mem.readU64(pe), mem.readU64(pe + 8), mem.readU64(pe + 16)) };
}

describe("an SVA bond's PASID in the VT-d PASID table", () => {
  it("bind allocates the PASID and programs it: an SVA domain over the process's page table, what the hardware reads", () => {
    const log = createLog(createSystem()); // the default platform: accel0 is PASID/PRI-capable, alone in its group
    const pid = 77;
    expect(isErrno(log.dispatch({ type: "vtd.unit.add", data: { unit: 0 } }))).toBe(false);
    expect(isErrno(log.dispatch({ type: "mm.spawn", data: { pid } }))).toBe(false);
    const bound = log.dispatch({ type: "sva.bind", data: { pid, rid: accel.rid, flags: 0 } });
    if (isErrno(bound)) throw new Error(`${bound}`);
    const pasid = (bound.find((e) => e.type === "sva.bound")!.data as { pasid: number }).pasid;
    expect(pasid).toBeGreaterThan(0); // PASID 0 is RID2PASID on VT-d
    const did = (bound.find((e) => e.type === "vtd.domain.allocated")!.data as { did: number }).did;
    const pgd = log.state.mm.processes.get(pid)!.pgd!; // the process's PML4 (its CR3), a page of RAM
    expect(pgd % 4096).toBe(0);

    const { context, entry } = walkToPasidEntry(log.state.vtd.units.get(0)!, accel.rid, pasid);
    expect(context.present && context.pasidEnable && context.pre).toBe(true);
    expect(entry.present).toBe(true);
    expect(entry.pgtt).toBe(PGTT.FL_ONLY);
    expect(entry.did).toBe(did);
    expect(entry.flptptr).toBe(pgd);
    expect(entry.sre).toBe(false); // user requests only
    expect(entry.flpm).toBe(0); // 4-level
    // and the PASID is the one ioasid holds for the process's address space (mm = pid)
    expect(Object.values(log.state.ioasid.bonds).map((b) => [b.rid, b.mm, b.pasid])).toEqual([
      [accel.rid, pid, pasid],
    ]);
  });
});
