/**
 * Test fixture: the smmu subsystem beside a minimal RAM (`mm.ram`, applying
 * `mm.phys.written` as the real mm subsystem does), and helpers to build
 * tables by hand.
 */
import { combine, createLog, type EventLog, FrameStore, type Subsystem } from "@iommu-sim/eventlog";
import { isErrno, type SmmuCommand } from "@iommu-sim/uapi";
import { checkInvariants, type SmmuOutEvent, type SmmuState, smmuSubsystem } from "../src/index";

/** Test-only RAM commands. */
type RamCommand = { type: "ramtest.write"; data: { pa: bigint; bytes: Uint8Array } };
type RamEvent = { type: "mm.phys.written"; data: { pa: bigint; bytes: Uint8Array } };

/** A stand-in for the mm subsystem: just RAM. */
export const ramSubsystem: Subsystem<RamCommand, RamEvent, { ram: FrameStore }> = {
  commands: ["ramtest."],
  events: ["mm.phys.written"],
  initialState: { ram: FrameStore.empty() },
  decide: (_s, c) => [{ type: "mm.phys.written", data: c.data }],
  evolve: (s, e) => ({ ram: s.ram.write(Number(e.data.pa), e.data.bytes) }),
};

export const decider = combine({ mm: ramSubsystem, smmu: smmuSubsystem });
export type Root = { readonly mm: { ram: FrameStore }; readonly smmu: SmmuState };
type AnyCmd = SmmuCommand | RamCommand;
type AnyEvt = SmmuOutEvent | RamEvent;

/** Table memory of instance 0 in these tests: 16 MiB at PA 0x10_0000_0000. */
export const TABLE_BASE = 0x10_0000_0000n;
export const TABLE_SIZE = 0x100_0000n;

export function newLog(): EventLog<AnyCmd, AnyEvt, Root> {
  return createLog(decider) as unknown as EventLog<AnyCmd, AnyEvt, Root>;
}

/** Dispatch and require success and sound invariants; returns the events' messages. */
export function ok(log: EventLog<AnyCmd, AnyEvt, Root>, c: AnyCmd): { type: string; data: unknown }[] {
  const r = log.dispatch(c);
  if (isErrno(r)) throw new Error(`${c.type} failed: ${r.toString()}`);
  const broken = checkInvariants(log.state.smmu);
  if (broken.length > 0) throw new Error(`after ${c.type}: ${broken.join("; ")}`);
  return r.map((x) => ({ type: x.type, data: x.data }));
}

/** A log with SMMU instance 0 (defaults, optional ID register / cache overrides). */
export function withSmmu(extra: Partial<Extract<SmmuCommand, { type: "smmu.instance.add" }>["data"]> = {}) {
  const log = newLog();
  ok(log, {
    type: "smmu.instance.add",
    data: { instance: 0, tableBase: TABLE_BASE, tableSize: TABLE_SIZE, ...extra },
  });
  return log;
}

/** Allocate table memory through the driver command; returns its PA. */
export function alloc(log: EventLog<AnyCmd, AnyEvt, Root>, bytes = 4096): number {
  const ev = ok(log, { type: "smmu.mem.alloc", data: { instance: 0, bytes } });
  return Number((ev[0]!.data as { pa: bigint }).pa);
}

/** Store one u64 into table memory. */
export function put64(log: EventLog<AnyCmd, AnyEvt, Root>, pa: number, value: bigint): void {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  ok(log, { type: "smmu.mem.write", data: { instance: 0, pa: BigInt(pa), bytes } });
}

/** Store one u64 into RAM (guest-owned tables). */
export function ram64(log: EventLog<AnyCmd, AnyEvt, Root>, pa: number, value: bigint): void {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  ok(log, { type: "ramtest.write", data: { pa: BigInt(pa), bytes } });
}

/** Store bytes into RAM. */
export function ramBytes(log: EventLog<AnyCmd, AnyEvt, Root>, pa: number, bytes: Uint8Array): void {
  ok(log, { type: "ramtest.write", data: { pa: BigInt(pa), bytes } });
}

/** The recorded event-queue records of instance 0. */
export function evtq(log: EventLog<AnyCmd, AnyEvt, Root>): readonly (readonly bigint[])[] {
  return log.state.smmu.instances.get(0)!.evtq.records;
}

export function inst0(log: EventLog<AnyCmd, AnyEvt, Root>) {
  return log.state.smmu.instances.get(0)!;
}

export type Log = EventLog<AnyCmd, AnyEvt, Root>;

/** Store u64 words at consecutive addresses of table memory. */
export function putWords(log: EventLog<AnyCmd, AnyEvt, Root>, pa: number, words: readonly bigint[]): void {
  for (let i = 0; i < words.length; i++) put64(log, pa + i * 8, words[i]!);
}

/** Store u64 words at consecutive addresses of RAM. */
export function ramWords(log: EventLog<AnyCmd, AnyEvt, Root>, pa: number, words: readonly bigint[]): void {
  for (let i = 0; i < words.length; i++) ram64(log, pa + i * 8, words[i]!);
}
