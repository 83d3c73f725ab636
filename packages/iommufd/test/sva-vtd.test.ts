/**
 * SVA on VT-d end to end (issue #11 step 3): a process's mm bound to the
 * PRI-capable accelerator; its DMA at the mm's PASID walks the process's
 * x86-64 page table in RAM (PGTT = first-stage only), a not-present page
 * becomes a page request, the SVA fault queue's work faults the page in
 * and answers SUCCESS, and the retry lands in the process's memory.
 *
 * Golden values: the PASID-entry bit positions of VT-d spec 4.1 §9.6 /
 * Linux drivers/iommu/intel/pasid.h (val[0]: P bit 0, AW bits 4:2, PGTT
 * bits 8:6; val[1]: DID bits 15:0, PWSNP bit 23; val[2]: SRE bit 0, FLPM
 * bits 3:2, FLPTR bits 63:12), x86-64 PTE bits (Intel SDM Vol. 3A Table
 * 4-19: P 0, R/W 1, U/S 2, A 5, D 6, XD 63), the page group response codes
 * (VT-d §7.7.1: 0 Success, 1 Invalid Request).
 */
import {
  type EventLog,
  encodeLog,
  type LogRecord,
  type Message,
  readLog,
  stateHash,
  sweepFailNth,
  textSource,
  Vocabulary,
} from "@iommu-sim/eventlog";
import { readContextEntry, type VtdUnit } from "@iommu-sim/hw-vtd";
import { checkIoasidInvariants } from "@iommu-sim/ioasid";
import { readLeaf, readUser } from "@iommu-sim/iopt";
import { isErrno, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  createEmptySystemLog,
  createSystem,
  createSystemLog,
  DEFAULT_PLATFORM,
  type Platform,
} from "../src/index";
import { checkSvaInvariants } from "../src/sva";

const ACCEL = 0x10; // 00:02.0, DEFAULT_PLATFORM's PRI/ATS/PASID accelerator behind vtd0
const NIC = 0x300; // 03:00.0: PASID but no PRI
const PID = 100;
const PAGE = 0x1000n;

type Log = EventLog<Message, Message, ReturnType<typeof createSystem>["initialState"]>;

/** Dispatch expecting success; every SVA and ioasid rule holds after it. */
function run(log: Log, c: Message): readonly Message[] {
  const r = log.dispatch(c);
  if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
  expect(checkSvaInvariants(log.state)).toEqual([]);
  expect(checkIoasidInvariants(log.state.ioasid)).toEqual([]);
  return r;
}

function data<T>(events: readonly Message[], type: string): T {
  const e = events.find((x) => x.type === type);
  if (e === undefined) throw new Error(`no ${type} in ${events.map((x) => x.type).join(", ")}`);
  return e.data as T;
}

const unit0 = (log: Log): VtdUnit => log.state.vtd.units.get(0)!;

/** The three used qwords of `rid`'s PASID-table entry for `pasid`, read from the unit's table memory. */
function pasidEntryWords(unit: VtdUnit, rid: number, pasid: number): bigint[] {
  const dir = readContextEntry(unit, rid)!.pasidDirPtr;
  const table = Number(unit.tables.readU64(dir + (pasid >> 6) * 8) & ~0xfffn);
  const at = table + (pasid & 63) * 64;
  return [0, 8, 16].map((o) => unit.tables.readU64(at + o));
}

/** A process with an 8-page private buffer, pages 0 and 2 written by the CPU; bound to the accelerator. */
function setUp() {
  const log = createSystemLog() as unknown as Log;
  run(log, { type: "mm.spawn", data: { pid: PID } });
  const buf = data<{ addr: bigint }>(
    run(log, { type: "mm.mmap", data: { pid: PID, length: 8n * PAGE, prot: 3, shared: false } }),
    "mm.mapped",
  ).addr;
  const pa0 = data<{ pa: bigint }>(
    run(log, { type: "mm.write", data: { pid: PID, va: buf, bytes: new Uint8Array([1, 2, 3]) } }),
    "mm.phys.written",
  ).pa;
  run(log, { type: "mm.write", data: { pid: PID, va: buf + 2n * PAGE, bytes: new Uint8Array([4]) } });
  const bound = run(log, { type: "sva.bind", data: { pid: PID, rid: ACCEL, flags: 0 } });
  const { pasid, bond } = data<{ pasid: number; bond: number }>(bound, "sva.bound");
  return { log, buf, pa0, pasid, bond, bound };
}

function dma(log: Log, pasid: number, iova: bigint, text: string) {
  return run(log, {
    type: "vtd.dma",
    data: {
      unit: 0,
      rid: ACCEL,
      pasid,
      iova,
      length: text.length,
      write: true,
      bytes: new TextEncoder().encode(text),
    },
  });
}

describe("SVA bind programs VT-d", () => {
  it("builds the mm's page table and a first-stage-only PASID entry pointing at it", () => {
    const { log, buf, pa0, pasid, bound } = setUp();
    expect(bound.map((e) => e.type)).toEqual([
      "ioasid.set.allocated",
      "ioasid.quota.charged",
      "pasid.allocated",
      "mm.pgd.allocated",
      "vtd.domain.allocated",
      "vtd.device.attached",
      "sva.bound",
    ]);
    const pgd = data<{ pgd: bigint; frames: number }>(bound, "mm.pgd.allocated");
    // A PML4, one PDPT, one PD and one PT cover the buffer's pages.
    expect(pgd.frames).toBe(4);
    const mm = log.state.mm;
    const proc = mm.processes.get(PID)!;
    expect(BigInt(proc.pgd!)).toBe(pgd.pgd);
    // A written private page: P | RW | US | A | D with XD, the frame the CPU store used.
    expect(readLeaf(mm.ram, proc.pgd!, Number(buf / PAGE))).toBe(0x8000_0000_0000_0067n | pa0);
    // An untouched page of the VMA has no PTE.
    expect(readLeaf(mm.ram, proc.pgd!, Number(buf / PAGE) + 1)).toBe(0n);
    // The PML4 entry of the buffer points at a table with _PAGE_TABLE flags (0x67).
    const pml4e = mm.ram.readU64(proc.pgd! + Number((buf >> 39n) & 511n) * 8);
    expect(pml4e & 0xfffn).toBe(0x67n);

    const did = data<{ did: number }>(bound, "vtd.domain.allocated").did;
    const [v0, v1, v2] = pasidEntryWords(unit0(log), ACCEL, pasid);
    // val[0] = 0x4d: P (bit 0), AW = 3 (bits 4:2; DEFAULT_CAP 0x11d2078c40780c06 has SAGAW 0b01100
    // and MGAW 57: the 5-level AGAW, which Linux writes as iommu->agaw), PGTT = 001 first-stage
    // only (bits 8:6); no SLPTPTR.
    expect(v0).toBe(0x4dn);
    // val[1]: the DID (bits 15:0) and PWSNP (bit 23: DEFAULT_ECAP has SMPWC), nothing else.
    expect(v1).toBe((1n << 23n) | BigInt(did));
    // val[2]: FLPTR = the mm's pgd, FLPM = 0 (4-level), SRE = 0 (user requests only).
    expect(v2).toBe(pgd.pgd);
  });

  it("a second device of the same mm shares the SVA domain; unbinding frees it with the last device", () => {
    const { log, pasid, bond } = setUp();
    // A device without PRI cannot take SVA (IOPF is needed): ENODEV, and nothing changes.
    const before = stateHash(log.state);
    const nic = log.dispatch({ type: "sva.bind", data: { pid: PID, rid: NIC, flags: 0 } });
    expect(isErrno(nic) && nic.name).toBe("ENODEV");
    expect(stateHash(log.state)).toBe(before);

    // A second bind of the same device takes a reference; the first unbind drops it.
    expect(
      run(log, { type: "sva.bind", data: { pid: PID, rid: ACCEL, flags: 0 } }).map((e) => e.type),
    ).toEqual(["sva.referenced"]);
    expect(run(log, { type: "sva.unbind", data: { bond } }).map((e) => e.type)).toEqual(["sva.unreferenced"]);
    const did = unit0(log).devices.get(ACCEL)!.attached.get(pasid)!;
    const last = run(log, { type: "sva.unbind", data: { bond } });
    expect(last.map((e) => e.type)).toEqual([
      "vtd.device.detached",
      "vtd.domain.freed",
      "sva.unbound",
      "pasid.freed",
      "ioasid.quota.uncharged",
      "ioasid.set.freed",
    ]);
    expect(pasidEntryWords(unit0(log), ACCEL, pasid)).toEqual([0n, 0n, 0n]);
    expect(unit0(log).domains.has(did)).toBe(false);
  });

  it("every fallible step of bind fails it without a trace (fail-nth sweep)", () => {
    const log = createSystemLog() as unknown as Log;
    run(log, { type: "mm.spawn", data: { pid: PID } });
    run(log, { type: "mm.mmap", data: { pid: PID, length: PAGE, prot: 3, shared: false } });
    const report = sweepFailNth(createSystem(), log.state, {
      type: "sva.bind",
      data: { pid: PID, rid: ACCEL, flags: 0 },
    } as never);
    // The device's first attach allocates its context table (1 page), its PASID
    // directory for 2^20 PASIDs (2^14 8-byte entries = 32 pages, Linux
    // intel_pasid_alloc_table()) and the PASID table page holding the entry (1).
    expect(report.sites).toEqual([
      "sva.bond.kzalloc",
      "ioasid.set_alloc",
      "sva.alloc_pasid",
      "mm.pgd_alloc",
      "sva.domain_alloc",
      "sva.mmu_notifier_register",
      "vtd.did_alloc",
      ...new Array<string>(1 + 32 + 1).fill("vtd.pasid_table_alloc"),
    ]);
  });
});

describe("DMA with the SVA PASID", () => {
  it("a touched page translates; an untouched one faults through the PRQ to the SVA fault queue, is handled and retried", () => {
    const { log, buf, pa0, pasid } = setUp();
    const hit = dma(log, pasid, buf + 8n, "hello");
    expect(data<{ pa: bigint }>(hit, "mm.phys.written").pa).toBe(pa0 + 8n);

    const missing = buf + 5n * PAGE;
    const miss = dma(log, pasid, missing + 16n, "world");
    expect(miss.some((e) => e.type === "mm.phys.written")).toBe(false);
    const req = data<{ addr: bigint; write: boolean; lpig: boolean; pasid: number }>(miss, "vtd.prq.queued");
    expect(req).toMatchObject({ addr: missing, write: true, lpig: true, pasid });
    const u = unit0(log);
    // The intel driver read the request off the queue (PQH = PQT) …
    expect(u.prqHead).toBe(u.prqTail);
    // … and it waits in the SVA fault queue, unanswered.
    expect(log.state.ioasid.iopf).toHaveLength(1);
    expect(log.state.ioasid.iopf[0]).toMatchObject({ rid: ACCEL, pasid, complete: true });
    expect([...u.pageGroups.values()][0]?.response).toBeUndefined();

    const handled = run(log, { type: "sva.iopf.handle", data: {} });
    expect(handled.map((e) => e.type)).toEqual(["mm.faulted", "vtd.qi.executed", "sva.iopf.handled"]);
    expect(data<{ code: number }>(handled, "sva.iopf.handled").code).toBe(0);
    expect([...unit0(log).pageGroups.values()][0]?.response).toBe(0); // Success
    expect(log.state.ioasid.iopf).toHaveLength(0);
    const pfn = data<{ runs: { pfn: number; va: bigint }[] }>(handled, "mm.faulted").runs[0]!;
    expect(pfn.va).toBe(missing);
    const proc = log.state.mm.processes.get(PID)!;
    expect(readLeaf(log.state.mm.ram, proc.pgd!, Number(missing / PAGE))).toBe(
      0x8000_0000_0000_0067n | (BigInt(pfn.pfn) << 12n),
    );

    const retry = dma(log, pasid, missing + 16n, "world");
    expect(data<{ pa: bigint }>(retry, "mm.phys.written").pa).toBe(BigInt(pfn.pfn) * PAGE + 16n);
    const seen = readUser(log.state.mm, PID, missing + 16n, 5);
    expect(new TextDecoder().decode(seen as Uint8Array)).toBe("world");
  });

  it("a fault outside every VMA is answered Invalid Request", () => {
    const { log, buf, pasid } = setUp();
    dma(log, pasid, buf + 8n * PAGE, "x"); // just past the 8-page VMA
    const handled = run(log, { type: "sva.iopf.handle", data: {} });
    expect(handled.map((e) => e.type)).toEqual(["vtd.qi.executed", "sva.iopf.handled"]);
    expect(data<{ code: number }>(handled, "sva.iopf.handled").code).toBe(1);
    expect([...unit0(log).pageGroups.values()][0]?.response).toBe(1);
  });

  it("munmap flushes the PASID's IOTLB: the next DMA faults instead of using the stale translation", () => {
    const { log, buf, pasid } = setUp();
    dma(log, pasid, buf, "cached");
    expect(unit0(log).iotlb.size).toBeGreaterThan(0);
    run(log, { type: "mm.munmap", data: { pid: PID, addr: buf, length: PAGE } });
    const proc = log.state.mm.processes.get(PID)!;
    expect(readLeaf(log.state.mm.ram, proc.pgd!, Number(buf / PAGE))).toBe(0n);
    const after = dma(log, pasid, buf, "stale?");
    expect(after.some((e) => e.type === "mm.phys.written")).toBe(false);
    expect(data<{ addr: bigint }>(after, "vtd.prq.queued").addr).toBe(buf);
  });

  it("the whole flow survives the JSONL log and replays to the same state hash", async () => {
    const { log, buf, pasid, bond } = setUp();
    dma(log, pasid, buf, "a");
    dma(log, pasid, buf + 5n * PAGE, "b");
    run(log, { type: "sva.iopf.handle", data: {} });
    dma(log, pasid, buf + 5n * PAGE, "b");
    run(log, { type: "mm.munmap", data: { pid: PID, addr: buf, length: PAGE } });
    run(log, { type: "mm.fork", data: { parent: PID, child: PID + 1 } });
    run(log, { type: "sva.unbind", data: { bond } });
    const opened = await readLog(textSource(encodeLog(log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "sva.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    const copy = createEmptySystemLog();
    copy.append(records as Parameters<typeof copy.append>[0]);
    expect(stateHash(copy.state)).toBe(stateHash(log.state));
  });
});

/** DEFAULT_PLATFORM with a second PRI-capable accelerator behind vtd0 (00:03.0, its own group). */
const TWO_ACCELS: Platform = {
  ...DEFAULT_PLATFORM,
  devices: [
    ...DEFAULT_PLATFORM.devices,
    {
      name: "accel1",
      iommu: "vtd0",
      rid: 0x18,
      group: 9,
      pasidBits: 20,
      pri: true,
      ats: true,
      trusted: true,
    },
  ],
};

describe("SVA lifetimes", () => {
  it("two devices of one mm share its SVA domain; each unbind clears its own entry, the last frees the domain", () => {
    const log = createSystemLog(undefined, undefined, TWO_ACCELS) as unknown as Log;
    run(log, { type: "mm.spawn", data: { pid: PID } });
    const a = data<{ bond: number; pasid: number }>(
      run(log, { type: "sva.bind", data: { pid: PID, rid: ACCEL, flags: 0 } }),
      "sva.bound",
    );
    const second = run(log, { type: "sva.bind", data: { pid: PID, rid: 0x18, flags: 0 } });
    // Same mm, same PASID (mm->pasid), same domain: only the second device's entry is new.
    expect(second.map((e) => e.type)).toEqual(["vtd.device.attached", "sva.bound"]);
    const b = data<{ bond: number; pasid: number }>(second, "sva.bound");
    expect(b.pasid).toBe(a.pasid);
    const did = unit0(log).devices.get(ACCEL)!.attached.get(a.pasid)!;
    expect(unit0(log).devices.get(0x18)!.attached.get(b.pasid)).toBe(did);
    expect(run(log, { type: "sva.unbind", data: { bond: a.bond } }).map((e) => e.type)).toEqual([
      "vtd.device.detached",
      "sva.unbound",
    ]);
    expect(pasidEntryWords(unit0(log), ACCEL, a.pasid)).toEqual([0n, 0n, 0n]);
    expect(pasidEntryWords(unit0(log), 0x18, b.pasid)[2]).toBe(BigInt(log.state.mm.processes.get(PID)!.pgd!));
    expect(
      run(log, { type: "sva.unbind", data: { bond: b.bond } })
        .map((e) => e.type)
        .slice(0, 3),
    ).toEqual(["vtd.device.detached", "vtd.domain.freed", "sva.unbound"]);
    expect(unit0(log).domains.has(did)).toBe(false);
  });

  it("a device write to a page fork write-protected breaks COW: the parent's bytes are copied to its new frame", () => {
    const { log, buf, pa0, pasid } = setUp();
    dma(log, pasid, buf, "w"); // caches a writable IOTLB entry for the page
    run(log, { type: "mm.fork", data: { parent: PID, child: PID + 1 } });
    // fork flushed the PASID: the next write walks and finds the PTE read-only (R/W = 0).
    const miss = dma(log, pasid, buf + 1n, "X");
    expect(data<{ reason: number }>(miss, "vtd.prq.queued").reason).toBe(0x85); // SGN.6 no write permission
    const handled = run(log, { type: "sva.iopf.handle", data: {} });
    const cow = data<{ runs: { pfn: number; copyFrom?: number[] }[] }>(handled, "mm.faulted").runs[0]!;
    expect(cow.copyFrom).toEqual([Number(pa0 / PAGE)]);
    const retry = dma(log, pasid, buf + 1n, "X");
    expect(data<{ pa: bigint }>(retry, "mm.phys.written").pa).toBe(BigInt(cow.pfn) * PAGE + 1n);
    // The parent sees its old bytes and the device's; the child keeps the pre-fork page.
    expect(readUser(log.state.mm, PID, buf, 3)).toEqual(new Uint8Array([0x77, 0x58, 3]));
    expect(readUser(log.state.mm, PID + 1, buf, 3)).toEqual(new Uint8Array([0x77, 2, 3]));
  });

  it("the mm's exit tears the PASID entry down (the device faults unrecoverably); the bond's end frees the domain", () => {
    const { log, buf, pasid } = setUp();
    dma(log, pasid, buf, "w");
    run(log, { type: "mm.exit", data: { pid: PID } });
    expect(pasidEntryWords(unit0(log), ACCEL, pasid)).toEqual([0n, 0n, 0n]);
    const after = dma(log, pasid, buf, "w");
    // 0x59 = SPT.2 PASID-table entry not present: not a page request, a fault record.
    expect(after.map((e) => e.type)).toContain("vtd.fault.recorded");
    expect(data<{ reason: number }>(after, "vtd.fault.recorded").reason).toBe(0x59);
    const exit = run(log, { type: "ioasid.process.exit", data: { pid: PID } });
    expect(exit.map((e) => e.type).slice(0, 3)).toEqual([
      "vtd.device.detached",
      "vtd.domain.freed",
      "sva.unbound",
    ]);
  });

  it("an allocation failure in handle_mm_fault answers Invalid Request and faults nothing in", () => {
    const { log, buf, pasid } = setUp();
    dma(log, pasid, buf + 5n * PAGE, "b");
    const before = log.state.mm;
    log.failNth(1);
    const handled = run(log, { type: "sva.iopf.handle", data: {} });
    expect(handled.map((e) => e.type)).toEqual(["vtd.qi.executed", "sva.iopf.handled"]);
    expect(data<{ code: number }>(handled, "sva.iopf.handled").code).toBe(1);
    expect(log.state.mm.nextPfn).toBe(before.nextPfn);
  });
});

describe("the SVA invariant checker", () => {
  it("reports a PTE that disagrees with the mm and a PASID entry that no longer points at the pgd", () => {
    const { log, buf, pasid } = setUp();
    expect(checkSvaInvariants(log.state)).toEqual([]);
    const proc = log.state.mm.processes.get(PID)!;
    log.snapshot(); // seal the state: the edits below copy the frames they touch
    // Clear the written page's PTE behind the mm's back.
    let t = proc.pgd!;
    for (const shift of [39n, 30n, 21n])
      t = Number(log.state.mm.ram.readU64(t + Number((buf >> shift) & 511n) * 8) & ~0xfffn);
    const ram = log.state.mm.ram.writeU64(t + Number((buf >> 12n) & 511n) * 8, 0n);
    const broken = { ...log.state, mm: { ...log.state.mm, ram } };
    expect(checkSvaInvariants(broken)).toEqual([`pid ${PID}: PTE of 0x${buf.toString(16)} is 0x0`]);
    // A process whose pgd moved: the SVA domain and PASID entry now point elsewhere.
    const moved = new Map(log.state.mm.processes).set(PID, { ...proc, pgd: proc.pgd! + 0x1000 });
    const report = checkSvaInvariants({ ...log.state, mm: { ...log.state.mm, processes: moved } });
    expect(report.filter((x) => x.startsWith("bond "))).toEqual([
      expect.stringContaining("SVA domain"),
      `bond 1: PASID ${pasid} entry of rid 0x10 is not first-stage over the pgd`,
    ]);
    // The log's own state is untouched.
    expect(checkSvaInvariants(log.state)).toEqual([]);
  });
});
