/**
 * Property: whatever a process does to its address space while bound to
 * the accelerator — mmap, munmap, CPU stores, fork — and whatever the
 * accelerator does with the SVA PASID, a device write lands only in a page
 * the process has writable at that VA right now, and the process reads
 * the bytes back there (no stale IOTLB entry, no write through a
 * write-protected COW page); every handled fault group lets the retry
 * through; the SVA and ioasid invariants hold after every command.
 * The reference model is the process's own view: its VMAs and readUser.
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { checkIoasidInvariants } from "@iommu-sim/ioasid";
import { pageWritable, readUser, userVaToPa } from "@iommu-sim/iopt";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type createSystem, createSystemLog } from "../src/index";
import { checkSvaInvariants } from "../src/sva";

const ACCEL = 0x10;
const PID = 100;
const BASE = 0x2000_0000n;
const PAGES = 4;
const PAGE = 0x1000n;

type Log = EventLog<Message, Message, ReturnType<typeof createSystem>["initialState"]>;

type Op =
  | { op: "mmap"; page: number; pages: number; prot: 1 | 3; shared: boolean }
  | { op: "munmap"; page: number; pages: number }
  | { op: "store"; page: number; value: number }
  | { op: "dma"; page: number; write: boolean; value: number }
  | { op: "handle" }
  | { op: "fork" };

const page = fc.nat(PAGES - 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("mmap" as const),
    page,
    pages: fc.integer({ min: 1, max: 3 }),
    prot: fc.constantFrom(1 as const, 3 as const),
    shared: fc.boolean(),
  }),
  fc.record({ op: fc.constant("munmap" as const), page, pages: fc.integer({ min: 1, max: 3 }) }),
  {
    arbitrary: fc.record({
      op: fc.constant("store" as const),
      page,
      value: fc.integer({ min: 1, max: 255 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("dma" as const),
      page,
      write: fc.boolean(),
      value: fc.integer({ min: 1, max: 255 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.constant({ op: "handle" as const }), weight: 2 },
  fc.constant({ op: "fork" as const }),
);

function checked(log: Log, c: Message): readonly Message[] | undefined {
  const r = log.dispatch(c);
  const bad = [...checkSvaInvariants(log.state), ...checkIoasidInvariants(log.state.ioasid)];
  if (bad.length > 0) throw new Error(`${c.type}: ${bad.join("; ")}`);
  return isErrno(r) ? undefined : r;
}

function dma(log: Log, pasid: number, va: bigint, write: boolean, value: number) {
  return checked(log, {
    type: "vtd.dma",
    data: {
      unit: 0,
      rid: ACCEL,
      pasid,
      iova: va,
      length: 1,
      write,
      ...(write ? { bytes: Uint8Array.of(value) } : {}),
    },
  })!;
}

describe("property: SVA DMA agrees with the process's view of its memory", () => {
  it("a device write lands only where the process has the page writable, and it reads the byte back", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const log = createSystemLog() as unknown as Log;
        checked(log, { type: "mm.spawn", data: { pid: PID } });
        checked(log, {
          type: "mm.mmap",
          data: { pid: PID, addr: BASE, length: 8n * PAGE, prot: 3, shared: false },
        });
        const bound = checked(log, { type: "sva.bind", data: { pid: PID, rid: ACCEL, flags: 0 } })!;
        const pasid = (bound.find((e) => e.type === "sva.bound")!.data as { pasid: number }).pasid;
        let child = PID + 1;
        for (const o of ops) {
          const va = o.op === "handle" || o.op === "fork" ? 0n : BASE + BigInt(o.page) * PAGE;
          if (o.op === "mmap" || o.op === "munmap") {
            const length = BigInt(Math.min(o.pages, PAGES - o.page)) * PAGE;
            const data =
              o.op === "mmap"
                ? { pid: PID, addr: va, length, prot: o.prot, shared: o.shared }
                : { pid: PID, addr: va, length };
            checked(log, { type: `mm.${o.op}`, data });
          } else if (o.op === "store") {
            checked(log, { type: "mm.write", data: { pid: PID, va, bytes: Uint8Array.of(o.value) } });
          } else if (o.op === "fork") {
            checked(log, { type: "mm.fork", data: { parent: PID, child: child++ } });
          } else if (o.op === "handle") {
            const group = log.state.ioasid.iopf.find((g) => g.complete);
            const handled = checked(log, { type: "sva.iopf.handle", data: {} });
            if (group === undefined || handled === undefined) continue;
            const { code } = handled.find((e) => e.type === "sva.iopf.handled")!.data as { code: number };
            if (code !== 0) continue;
            // Success: the device's retry of every page of the group translates.
            for (const p of group.pages) {
              const retry = dma(log, pasid, p.addr, p.write, 0x5a);
              expect(retry.some((e) => e.type === "vtd.prq.queued" || e.type === "vtd.fault.recorded")).toBe(
                false,
              );
            }
          } else {
            const events = dma(log, pasid, va, o.write, o.value);
            const landed = events.find(
              (e) => e.type === "mm.phys.written" && (e.data as { bytes: Uint8Array }).bytes.length === 1,
            );
            const proc = log.state.mm.processes.get(PID)!;
            const vma = proc.vmas.find((v) => BigInt(v.start) <= va && va < BigInt(v.end));
            if (o.write && landed !== undefined) {
              // Landed: in the frame behind the VA, which the process may write now (its own, not
              // a page shared copy-on-write with a child), and it sees the byte.
              expect(vma !== undefined && pageWritable(proc, Number(va / PAGE))).toBe(true);
              expect((landed.data as { pa: bigint }).pa).toBe(
                BigInt(userVaToPa(log.state.mm, PID, va) as number),
              );
              expect(readUser(log.state.mm, PID, va, 1)).toEqual(Uint8Array.of(o.value));
            }
            if (vma === undefined || (o.write && (vma.prot & 2) === 0)) {
              // Not the process's to write: no byte lands.
              expect(o.write && landed !== undefined).toBe(false);
            }
          }
        }
        return true;
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});
