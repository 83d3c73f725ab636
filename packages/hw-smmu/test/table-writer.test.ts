/**
 * `TableWriter`, the write overlay of one map/unmap (src/pgtable.ts): reads
 * see this operation's latest write to a descriptor, else table memory;
 * nothing reaches memory before `flush`, which replays the writes in
 * program order — whether the operation made one write (kept in fields),
 * a few (scanned) or many (indexed by PA).
 */
import { FrameStore, sealEpoch } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { TableWriter } from "../src/pgtable";

const BASE = 0x20_0000_0000; // SMMU instance 0's table memory (iommufd system.ts)

function memory(): FrameStore {
  const m = FrameStore.empty().writeU64Halves(BASE, 0x1234_5003, 0x8);
  sealEpoch(); // a later write must copy, so `m` itself shows what reached memory
  return m;
}

function readBack(w: TableWriter, pa: number): [number, number] {
  w.read(pa);
  return [w.lo, w.hi];
}

describe("TableWriter", () => {
  it("reads memory until written, then its own latest write; memory changes only on flush", () => {
    const mem = memory();
    const w = new TableWriter(mem, BASE + 4096, BASE + 0x10_0000);
    expect(readBack(w, BASE)).toEqual([0x1234_5003, 0x8]);
    w.write(BASE, 0xffff_f003, 0xffff);
    expect(readBack(w, BASE)).toEqual([0xffff_f003, 0xffff]);
    w.write(BASE + 8, 1, 2);
    w.write(BASE, 0, 0);
    expect(readBack(w, BASE)).toEqual([0, 0]);
    expect(readBack(w, BASE + 8)).toEqual([1, 2]);
    expect(mem.readU32(BASE)).toBe(0x1234_5003);
    const after = w.flush();
    expect([after.readU32(BASE), after.readU32(BASE + 4)]).toEqual([0, 0]);
    expect([after.readU32(BASE + 8), after.readU32(BASE + 12)]).toEqual([1, 2]);
    expect(mem.readU32(BASE)).toBe(0x1234_5003);
  });

  it("keeps the last of many writes to a PA (past the scan limit, indexed)", () => {
    const w = new TableWriter(memory(), BASE + 4096, BASE + 0x10_0000);
    for (let i = 0; i < 40; i++) w.write(BASE + (i % 5) * 8, i, 100 + i);
    for (let k = 0; k < 5; k++) expect(readBack(w, BASE + k * 8)).toEqual([35 + k, 135 + k]);
    const after = w.flush();
    for (let k = 0; k < 5; k++) expect(after.readU32(BASE + k * 8)).toBe(35 + k);
  });

  it("flushes nothing when nothing was written, and allocates frames from `next`", () => {
    const mem = memory();
    const w = new TableWriter(mem, BASE + 4096, BASE + 3 * 4096);
    expect(w.alloc()).toBe(BASE + 4096);
    expect(w.alloc()).toBe(BASE + 2 * 4096);
    expect(w.alloc()).toBeUndefined();
    expect(w.allocated).toBe(2);
    expect(w.flush()).toBe(mem);
  });
});
