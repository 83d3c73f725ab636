/** A small platform for the ioasid tests: a device table and a log over the subsystem alone. */
import { combine, createLog, type EventLog, sealEpoch } from "@iommu-sim/eventlog";
import { type Errno, type IoasidCommand, type IoasidEvent, isErrno } from "@iommu-sim/uapi";
import { expect } from "vitest";
import {
  checkIoasidInvariants,
  createIoasid,
  type IoasidState,
  type PasidDevice,
  type PasidSpaceConfig,
} from "../src/index";

/** PCI requester id of bus:dev.fn. */
export const bdf = (bus: number, dev: number, fn: number): number => (bus << 8) | (dev << 3) | fn;

const base: PasidDevice = {
  pasidEnabled: true,
  groupSize: 1,
  trusted: true,
  external: false,
  onSocket: false,
};

/** Devices by rid. */
export const DEV = {
  /** An on-socket accelerator (Intel DSA is an RCiEP at 00:01.0 on Sapphire Rapids). */
  dsa: bdf(0, 1, 0),
  /** A PASID-capable endpoint in a slot. */
  nic: bdf(0x3b, 0, 0),
  /** Behind a Thunderbolt (external-facing) port: Linux marks it untrusted. */
  thunderbolt: bdf(0x70, 0, 0),
  /** Shares its IOMMU group with a sibling function. */
  grouped: bdf(0x41, 0, 0),
  /** PASID not enabled. */
  noPasid: bdf(0x42, 0, 0),
  /** Emits only 2^4 PASIDs (pci_max_pasids() = 16). */
  narrow: bdf(0x43, 0, 0),
} as const;

export const DEVICES: Readonly<Record<number, PasidDevice>> = {
  [DEV.dsa]: { ...base, onSocket: true },
  [DEV.nic]: base,
  [DEV.thunderbolt]: { ...base, trusted: false, external: true },
  [DEV.grouped]: { ...base, groupSize: 2 },
  [DEV.noPasid]: { ...base, pasidEnabled: false },
  [DEV.narrow]: { ...base, maxPasids: 16 },
};

export type Root = { readonly ioasid: IoasidState };
export type Log = EventLog<IoasidCommand, IoasidEvent, Root>;

/** A fresh system (20-bit PASIDs, PASID 0 reserved unless told otherwise). */
export function system(config: PasidSpaceConfig = {}): Log {
  const ioasid = createIoasid<Root>({ ...config, devices: (_root, rid) => DEVICES[rid] });
  return createLog(combine({ ioasid })) as Log;
}

/** The events of a successful dispatch, as plain messages. */
export function ok(r: readonly { type: string; data: unknown }[] | Errno): { type: string; data: unknown }[] {
  if (isErrno(r)) throw new Error(`expected success, got ${r.toString()}`);
  return r.map((e) => ({ type: e.type, data: e.data }));
}

/** Dispatch expecting an errno; assert it and that nothing was logged. @returns the Errno. */
export function fails(log: Log, command: IoasidCommand, name: string): Errno {
  const seq = log.seq;
  const r = log.dispatch(command);
  if (!isErrno(r)) throw new Error(`expected ${name}, got events ${JSON.stringify(r.map((e) => e.type))}`);
  expect(r.name).toBe(name);
  expect(log.seq).toBe(seq);
  expect(checkIoasidInvariants(slice(log))).toEqual([]);
  return r;
}

/** Dispatch expecting success and a consistent state after it; @returns the events. */
export function run(log: Log, command: IoasidCommand): { type: string; data: unknown }[] {
  const events = ok(log.dispatch(command));
  expect(checkIoasidInvariants(slice(log))).toEqual([]);
  return events;
}

/** The PASID carried by the single pasid.allocated event of `events`. */
export function allocatedPasid(events: { type: string; data: unknown }[]): number {
  const a = events.filter((e) => e.type === "pasid.allocated");
  expect(a).toHaveLength(1);
  return (a[0]!.data as { pasid: number }).pasid;
}

/** Open /dev/ioasid as pid; @returns the fd. */
export function open(log: Log, pid: number): number {
  const e = run(log, { type: "ioasid.open", data: { pid } }).find((x) => x.type === "ioasid.opened")!;
  return (e.data as { fd: number }).fd;
}

/** Allocate in [min, max] as pid through fd; @returns the PASID. */
export function alloc(log: Log, pid: number, fd: number, min = 0, max = 2 ** 31 - 1): number {
  return allocatedPasid(run(log, { type: "ioasid.alloc", data: { pid, fd, min, max } }));
}

/** The current ioasid slice (sealed, safe to keep). */
export function slice(log: Log): IoasidState {
  sealEpoch();
  return log.state.ioasid;
}
