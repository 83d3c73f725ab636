/**
 * Freeing a paging domain's second-stage table pages back to the unit's
 * frame allocator (Linux frees a domain's page-table pages in
 * `domain_exit()` / the generic page table's `pt_iommu_deinit()`).
 */
import { SL } from "./pte";
import type { VtdUnit } from "./state";

/** The table frames of the second-stage tree under `table` at `level` (non-leaf entries only). */
function tableFrames(unit: VtdUnit, table: number, level: number, out: number[]): void {
  out.push(table / 4096);
  if (level === 1) return;
  for (let i = 0; i < 512; i++) {
    const lo = unit.tables.readU32(table + i * 8);
    if ((lo & (SL.R | SL.W)) === 0 || lo & SL.PS) continue;
    const hi = unit.tables.readU32(table + i * 8 + 4);
    tableFrames(unit, (hi & 0xfffff) * 4294967296 + (lo >>> 12) * 4096, level - 1, out);
  }
}

/**
 * Return domain `did`'s table pages to the free list and forget their
 * contents; nested domains own no table memory.
 */
export function freeDomainTables(unit: VtdUnit, did: number): VtdUnit {
  const d = unit.domains.get(did);
  if (d === undefined || d.kind !== "paging") return unit;
  const frames: number[] = [];
  tableFrames(unit, d.pgd, d.agaw + 2, frames);
  let tables = unit.tables;
  for (const pfn of frames) tables = tables.drop(pfn);
  return { ...unit, tables, freeFrames: [...unit.freeFrames, ...frames] };
}
