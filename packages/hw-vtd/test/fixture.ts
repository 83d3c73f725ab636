/**
 * Test fixtures: a minimal `mm` subsystem (RAM as a FrameStore, applying
 * `mm.phys.written`, as packages/iopt's mm will), a system combining it with
 * `vtd`, and helpers to build tables by hand.
 */
import { combine, createLog, type EventLog, FrameStore, type Subsystem } from "@iommu-sim/eventlog";
import { isErrno, type VtdCommand } from "@iommu-sim/uapi";
import { expect } from "vitest";
import { type VtdEmitted, vtd } from "../src/index";
import type { VtdState } from "../src/state";

export type MmWrite = { type: "mm.phys.written"; data: { pa: bigint; bytes: Uint8Array } };
export type MmPoke = { type: "mm.poke"; data: { pa: bigint; bytes: Uint8Array } };

/** RAM owned by a stand-in mm slice; `mm.poke` lets a test (a guest) write RAM. */
export const mm: Subsystem<MmPoke, MmWrite, { ram: FrameStore }, unknown> = {
  commands: ["mm."],
  events: ["mm."],
  initialState: { ram: FrameStore.empty() },
  decide: (_s, c) => [{ type: "mm.phys.written", data: c.data }],
  evolve: (s, e) => ({ ram: s.ram.write(Number(e.data.pa), e.data.bytes) }),
};

export type Root = { mm: { ram: FrameStore }; vtd: VtdState };
export type Cmd = VtdCommand | MmPoke;
export type Evt = VtdEmitted | MmWrite;

/** A log over `{ mm, vtd }`. */
export function system(): EventLog<Cmd, Evt, Root> {
  return createLog(combine({ mm, vtd })) as unknown as EventLog<Cmd, Evt, Root>;
}

/** Dispatch and expect success; returns the events' data by type. */
export function ok(log: EventLog<Cmd, Evt, Root>, c: Cmd) {
  const r = log.dispatch(c);
  if (isErrno(r)) throw new Error(`${c.type} failed: ${r.toString()}`);
  return r;
}

/** Dispatch and expect this errno. */
export function fails(log: EventLog<Cmd, Evt, Root>, c: Cmd, name: string): void {
  const r = log.dispatch(c);
  expect(isErrno(r) ? r.name : "success").toBe(name);
}

/** Little-endian u64 bytes. */
export function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** Write a 64-bit entry into guest RAM through `mm.poke`. */
export function poke(log: EventLog<Cmd, Evt, Root>, pa: number, v: bigint): void {
  ok(log, { type: "mm.poke", data: { pa: BigInt(pa), bytes: u64(v) } });
}

/** A standard unit 0 with one 4-level paging domain (DID 2) attached to rid 0x0300 (00:03.0... bus 3). */
export const RID = 0x0310; // bus 3, device 2, function 0
