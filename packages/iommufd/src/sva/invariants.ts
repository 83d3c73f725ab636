/**
 * The consistency rules SVA keeps across the `mm`, `vtd` and `ioasid`
 * slices, for tests to check after every command (DESIGN.md: an invariant
 * checker after every command in tests):
 *
 * - every SVA bond on a VT-d device has the mm's SVA domain attached at the
 *   bond's PASID, its first stage at the mm's pgd; while the process lives,
 *   the PASID entry in table memory is present, first-stage only, FLPTR =
 *   pgd, SRE = 0 (after its exit the entry is torn down: not present);
 * - every SVA domain of a unit is attached somewhere (freed with its last
 *   device);
 * - every bound process's CPU page table says exactly what the mm holds:
 *   a leaf `x86Pte(frame, writable)` for each present page, and no other
 *   present leaf in its VMAs' ranges.
 */
import { decodePasidEntry, PGTT, readContextEntry, type VtdState, type VtdUnit } from "@iommu-sim/hw-vtd";
import type { IoasidState } from "@iommu-sim/ioasid";
import { type MmState, PAGE_SIZE, presentPages, readLeaf, x86Pte } from "@iommu-sim/iopt";

/** The slices the rules read. */
export interface SvaCheckRoot {
  readonly mm: MmState;
  readonly vtd: VtdState;
  readonly ioasid: IoasidState;
}

/** The PASID entry of `rid` at `pasid` read from table memory, or undefined when a level is not present. */
function pasidEntryAt(unit: VtdUnit, rid: number, pasid: number) {
  const ce = readContextEntry(unit, rid);
  if (ce?.present !== true) return undefined;
  const dir = unit.tables.readU64(ce.pasidDirPtr + (pasid >> 6) * 8);
  if ((dir & 1n) === 0n) return undefined;
  const at = Number(dir & 0x000f_ffff_ffff_f000n) + (pasid & 63) * 64;
  return decodePasidEntry(unit.tables.readU64(at), unit.tables.readU64(at + 8), unit.tables.readU64(at + 16));
}

function checkBonds(root: SvaCheckRoot, bad: string[]): void {
  for (const b of Object.values(root.ioasid.bonds)) {
    const proc = root.mm.processes.get(b.mm);
    for (const unit of root.vtd.units.values()) {
      const did = unit.devices.get(b.rid)?.attached.get(b.pasid);
      if (did === undefined) continue;
      const d = unit.domains.get(did);
      if (d?.kind !== "sva") continue;
      if (proc !== undefined && d.s1?.pgtblAddr !== proc.pgd)
        bad.push(
          `bond ${b.bond}: SVA domain ${did} walks ${d.s1?.pgtblAddr}, not mm ${b.mm}'s pgd ${proc.pgd}`,
        );
      const e = pasidEntryAt(unit, b.rid, b.pasid);
      if (proc === undefined) {
        if (e?.present === true) bad.push(`bond ${b.bond}: the exited mm's PASID entry is still present`);
      } else if (
        e?.present !== true ||
        e.pgtt !== PGTT.FL_ONLY ||
        e.flptptr !== proc.pgd ||
        e.sre ||
        e.did !== did
      ) {
        bad.push(
          `bond ${b.bond}: PASID ${b.pasid} entry of rid 0x${b.rid.toString(16)} is not first-stage over the pgd`,
        );
      }
    }
  }
}

function checkDomains(root: SvaCheckRoot, bad: string[]): void {
  for (const unit of root.vtd.units.values()) {
    for (const d of unit.domains.values()) {
      if (d.kind !== "sva") continue;
      const used = [...unit.devices.values()].some((dev) => [...dev.attached.values()].includes(d.did));
      if (!used) bad.push(`unit ${unit.id}: SVA domain ${d.did} is attached nowhere`);
    }
  }
}

function checkPageTables(root: SvaCheckRoot, bad: string[]): void {
  for (const proc of root.mm.processes.values()) {
    if (proc.pgd === undefined) continue;
    const want = new Map<number, bigint>();
    for (const p of presentPages(root.mm, proc)) want.set(p.vpn, x86Pte(p.pfn, p.writable));
    for (const vma of proc.vmas) {
      for (let vpn = vma.start / PAGE_SIZE; vpn < vma.end / PAGE_SIZE; vpn++) {
        const leaf = readLeaf(root.mm.ram, proc.pgd, vpn);
        const expected = want.get(vpn);
        // A shared page another process faulted in may lack this process's PTE (no minor fault yet).
        const ok = expected === undefined ? leaf === 0n : leaf === expected || (leaf === 0n && vma.shared);
        if (!ok)
          bad.push(`pid ${proc.pid}: PTE of 0x${(vpn * PAGE_SIZE).toString(16)} is 0x${leaf.toString(16)}`);
      }
    }
  }
}

/** Every violated rule (see the module comment), as a sentence; empty when consistent. */
export function checkSvaInvariants(root: SvaCheckRoot): string[] {
  const bad: string[] = [];
  checkBonds(root, bad);
  checkDomains(root, bad);
  checkPageTables(root, bad);
  return bad;
}
