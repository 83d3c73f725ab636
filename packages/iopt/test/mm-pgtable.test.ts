/**
 * A process's x86-64 CPU page table in RAM (what an IOMMU walks for SVA):
 * entry encodings, building it at the first bind, keeping it current
 * through faults, munmap, MAP_FIXED, fork and device faults, and a property
 * test against the mm's own page lookup.
 *
 * Golden values: Intel SDM Vol. 3A §4.5 Table 4-19/4-20 — P bit 0, R/W 1,
 * U/S 2, A 5, D 6, XD 63, address bits 51:12; Linux _PAGE_TABLE = 0x67
 * (arch/x86/include/asm/pgtable_types.h); 512 8-byte entries per 4 KiB
 * table, indexes VA[47:39], [38:30], [29:21], [20:12].
 */
import { combine, createLog, type Subsystem, stateHash } from "@iommu-sim/eventlog";
import { errno, isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decidePgdAlloc,
  handleIommuFault,
  type IommuFaultPage,
  lookupPage,
  type MmState,
  mmSubsystem,
  PAGE_SIZE,
  readLeaf,
  x86Pte,
  x86TableEntry,
} from "../src/index";

// biome-ignore lint/suspicious/noExplicitAny: the test reads the data of several message shapes
type Msg = { type: string; data: any };

/** A stand-in for the SVA driver: `t.bind` gives the process its table, `t.iopf` runs a device fault group. */
const driver: Subsystem<Msg, Msg, null, { mm: MmState }> = {
  commands: ["t."],
  events: ["t."],
  initialState: null,
  decide(_s, c, ctx) {
    if (c.type === "t.bind") return decidePgdAlloc(ctx.root.mm, c.data.pid, ctx);
    if (c.type === "t.iopf") {
      const r = handleIommuFault(ctx.root.mm, c.data.pid, c.data.pages as IommuFaultPage[]);
      return [...r.events, { type: "t.responded", data: { code: r.code } }];
    }
    return errno("ENOTTY");
  },
  evolve: (s) => s,
};

function system() {
  const log = createLog(combine({ mm: mmSubsystem, t: driver }) as never) as ReturnType<typeof createLog> & {
    state: { mm: MmState };
  };
  const run = (type: string, data: object): readonly Msg[] => {
    const r = log.dispatch({ type, data } as never);
    if (isErrno(r)) throw new Error(`${type}: ${r}`);
    return r as readonly Msg[];
  };
  return { log, run };
}

const PAGE = BigInt(PAGE_SIZE);
const leaf = (mm: MmState, pid: number, va: bigint) =>
  readLeaf(mm.ram, mm.processes.get(pid)!.pgd!, Number(va / PAGE));
const page = (addr: bigint, write: boolean): IommuFaultPage => ({ addr, read: !write, write, exec: false });

describe("x86-64 entry encodings", () => {
  it("a user leaf is XD | address | A U/S P, with R/W and D when writable; a table entry is _PAGE_TABLE", () => {
    expect(x86Pte(0x12345, true)).toBe(0x8000_0000_1234_5067n);
    expect(x86Pte(0x12345, false)).toBe(0x8000_0000_1234_5025n);
    // Address bits 51:12 hold frame numbers beyond 32 bits.
    expect(x86Pte(0xf_ffff_ffff, true)).toBe(0x8000_ffff_ffff_f067n);
    expect(x86TableEntry(2)).toBe(0x2067n);
  });
});

describe("the CPU page table of an SVA-bound process", () => {
  it("is built from the pages present at bind, 4 levels deep, with the leaf bytes little endian in RAM", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    const a = (
      run("mm.mmap", { pid: 1, length: 4n * PAGE, prot: 3, shared: false })[0]!.data as { addr: bigint }
    ).addr;
    run("mm.write", { pid: 1, va: a + PAGE, bytes: new Uint8Array([7]) });
    const pfn = lookupPage(log.state.mm, 1, Number(a / PAGE) + 1) as number;
    const [e] = run("t.bind", { pid: 1 });
    expect(e!.type).toBe("mm.pgd.allocated");
    // The PML4 plus one PDPT, PD and PT for the single present page.
    expect(e!.data.frames).toBe(4);
    const mm = log.state.mm;
    const pgd = mm.processes.get(1)!.pgd!;
    expect(BigInt(pgd)).toBe(e!.data.pgd);
    // Walk it by hand with the SDM's indexes.
    const va = a + PAGE;
    let table = pgd;
    for (const shift of [39n, 30n, 21n]) {
      const entry = mm.ram.readU64(table + Number((va >> shift) & 511n) * 8);
      expect(entry & 0xfffn).toBe(0x67n);
      table = Number(entry & 0x000f_ffff_ffff_f000n);
    }
    const at = table + Number((va >> 12n) & 511n) * 8;
    const expected = 0x8000_0000_0000_0067n | (BigInt(pfn) << 12n);
    expect(mm.ram.readU64(at)).toBe(expected);
    const le = new Uint8Array(8);
    new DataView(le.buffer).setBigUint64(0, expected, true);
    expect(mm.ram.read(at, 8)).toEqual(le);
    // Untouched pages of the VMA are not present.
    expect(leaf(mm, 1, a)).toBe(0n);
    // A second bind changes nothing.
    expect(run("t.bind", { pid: 1 })).toEqual([]);
  });

  it("CPU faults, munmap and MAP_FIXED keep it current; tables come with the events that need them", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    run("t.bind", { pid: 1 });
    const a = 0x4000_0000n; // a fresh 1 GiB region: the first fault needs a PDPT, a PD and a PT
    run("mm.mmap", { pid: 1, addr: a, length: 2n * PAGE, prot: 3, shared: false });
    const faulted = run("mm.write", { pid: 1, va: a, bytes: new Uint8Array([1]) });
    const f = faulted.find((x) => x.type === "mm.faulted")!.data as { runs: { pfn: number }[]; pt: object };
    expect(f.pt).toEqual({ pfn: f.runs[0]!.pfn + 1, count: 3 });
    expect(leaf(log.state.mm, 1, a)).toBe(x86Pte(f.runs[0]!.pfn, true));
    run("mm.munmap", { pid: 1, addr: a, length: PAGE });
    expect(leaf(log.state.mm, 1, a)).toBe(0n);
    run("mm.write", { pid: 1, va: a + PAGE, bytes: new Uint8Array([1]) });
    expect(leaf(log.state.mm, 1, a + PAGE)).not.toBe(0n);
    run("mm.mmap", { pid: 1, addr: a + PAGE, length: PAGE, prot: 1, shared: false });
    expect(leaf(log.state.mm, 1, a + PAGE)).toBe(0n);
  });

  it("fork write-protects the parent's private pages; the child has no table", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    const a = (run("mm.mmap", { pid: 1, length: PAGE, prot: 3, shared: false })[0]!.data as { addr: bigint })
      .addr;
    run("mm.write", { pid: 1, va: a, bytes: new Uint8Array([1]) });
    run("t.bind", { pid: 1 });
    const pfn = lookupPage(log.state.mm, 1, Number(a / PAGE)) as number;
    run("mm.fork", { parent: 1, child: 2 });
    expect(leaf(log.state.mm, 1, a)).toBe(x86Pte(pfn, false));
    expect(log.state.mm.processes.get(2)!.pgd).toBeUndefined();
    // A device write is a write fault on a read-only PTE: COW breaks, the PTE is writable again, on a new frame.
    const out = run("t.iopf", { pid: 1, pages: [page(a, true)] });
    const run0 = out.find((x) => x.type === "mm.faulted")!.data.runs[0];
    expect(run0.copyFrom).toEqual([pfn]);
    expect(leaf(log.state.mm, 1, a)).toBe(x86Pte(run0.pfn, true));
    expect(out.at(-1)!.data.code).toBe(0);
  });

  it("fork leaves a MAP_SHARED page's leaf writable, even in the PT of a write-protected private page", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    const a = 0x4000_0000n;
    run("mm.mmap", { pid: 1, addr: a, length: PAGE, prot: 3, shared: true });
    run("mm.mmap", { pid: 1, addr: a + PAGE, length: PAGE, prot: 3, shared: false });
    run("mm.write", { pid: 1, va: a, bytes: new Uint8Array([1]) });
    run("mm.write", { pid: 1, va: a + PAGE, bytes: new Uint8Array([2]) });
    run("t.bind", { pid: 1 });
    run("mm.fork", { parent: 1, child: 2 });
    const mm = log.state.mm;
    expect(leaf(mm, 1, a)).toBe(x86Pte(lookupPage(mm, 1, Number(a / PAGE)) as number, true));
    expect(leaf(mm, 1, a + PAGE)).toBe(x86Pte(lookupPage(mm, 1, Number(a / PAGE) + 1) as number, false));
  });

  it("device faults: a page outside every VMA or beyond its permissions is INVALID; errors are sticky", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    const ro = (run("mm.mmap", { pid: 1, length: PAGE, prot: 1, shared: false })[0]!.data as { addr: bigint })
      .addr;
    run("t.bind", { pid: 1 });
    const before = stateHash(log.state);
    expect(run("t.iopf", { pid: 1, pages: [page(ro, true)] }).map((e) => e.data.code)).toEqual([1]);
    expect(run("t.iopf", { pid: 1, pages: [page(0x1000n, false)] }).map((e) => e.data.code)).toEqual([1]);
    expect(stateHash(log.state)).toBe(before);
    // A read of the read-only page faults it in (mapped read-only); the write after it stops the group.
    const out = run("t.iopf", { pid: 1, pages: [page(ro, false), page(ro + PAGE, false)] });
    expect(out.map((e) => e.type)).toEqual(["mm.faulted", "t.responded"]);
    expect(out[1]!.data.code).toBe(1);
    expect(leaf(log.state.mm, 1, ro) & 0xfffn).toBe(0x025n);
  });

  it("a MAP_SHARED page another process faulted in only gets its PTE (mm.populated, a minor fault)", () => {
    const { log, run } = system();
    run("mm.spawn", { pid: 1 });
    const a = (run("mm.mmap", { pid: 1, length: PAGE, prot: 3, shared: true })[0]!.data as { addr: bigint })
      .addr;
    run("mm.fork", { parent: 1, child: 2 });
    run("t.bind", { pid: 1 });
    run("mm.write", { pid: 2, va: a, bytes: new Uint8Array([9]) }); // the child faults the shared page in
    expect(leaf(log.state.mm, 1, a)).toBe(0n);
    const out = run("t.iopf", { pid: 1, pages: [page(a, true)] });
    expect(out.map((e) => e.type)).toEqual(["mm.populated", "t.responded"]);
    expect(leaf(log.state.mm, 1, a)).toBe(
      x86Pte(lookupPage(log.state.mm, 1, Number(a / PAGE)) as number, true),
    );
  });
});

type Op =
  | { op: "mmap"; page: number; pages: number; prot: 1 | 3; shared: boolean }
  | { op: "write"; page: number }
  | { op: "munmap"; page: number; pages: number }
  | { op: "iopf"; page: number; write: boolean }
  | { op: "bind" };

const BASE = 0x10_0000_0000n; // 64 GiB: 2048 pages from here span 4 PTs of one PD
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("mmap" as const),
    page: fc.nat(2047),
    pages: fc.integer({ min: 1, max: 600 }),
    prot: fc.constantFrom(1 as const, 3 as const),
    shared: fc.boolean(),
  }),
  fc.record({ op: fc.constant("write" as const), page: fc.nat(2047) }),
  fc.record({
    op: fc.constant("munmap" as const),
    page: fc.nat(2047),
    pages: fc.integer({ min: 1, max: 600 }),
  }),
  fc.record({ op: fc.constant("iopf" as const), page: fc.nat(2047), write: fc.boolean() }),
  fc.constant({ op: "bind" as const }),
);

describe("property: the table always says what the mm holds", () => {
  it("after any sequence of mmap/write/munmap/device faults, each page's leaf is x86Pte(frame, writable) or 0", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
        const { log, run } = system();
        run("mm.spawn", { pid: 1 });
        run("t.bind", { pid: 1 });
        for (const o of ops) {
          const va = BASE + BigInt(o.op === "bind" ? 0 : o.page) * PAGE;
          const len =
            o.op === "mmap" || o.op === "munmap" ? BigInt(Math.min(o.pages, 2048 - o.page)) * PAGE : 0n;
          if (o.op === "mmap")
            run("mm.mmap", { pid: 1, addr: va, length: len, prot: o.prot, shared: o.shared });
          else if (o.op === "munmap") run("mm.munmap", { pid: 1, addr: va, length: len });
          else if (o.op === "bind") run("t.bind", { pid: 1 });
          else if (o.op === "iopf") run("t.iopf", { pid: 1, pages: [page(va, o.write)] });
          else log.dispatch({ type: "mm.write", data: { pid: 1, va, bytes: new Uint8Array([1]) } } as never);
        }
        const mm = log.state.mm;
        const proc = mm.processes.get(1)!;
        for (let p = 0; p < 2048; p++) {
          const va = BASE + BigInt(p) * PAGE;
          const vma = proc.vmas.find((v) => BigInt(v.start) <= va && va < BigInt(v.end));
          const pfn = vma === undefined ? -1 : (lookupPage(mm, 1, Number(va / PAGE)) as number);
          // One process: every page it holds is its own, so writable = the VMA's PROT_WRITE.
          const want = pfn >= 0 ? x86Pte(pfn, (vma!.prot & 2) !== 0) : 0n;
          if (leaf(mm, 1, va) !== want) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });
});
