/**
 * A ready-made root of this package's subsystems — `mm`, `iopt` and the
 * selftest `mockDomain` — for tests, benchmarks and standalone use.
 * iommufd composes the same subsystems with its own.
 */
import { combine, createLog, type EventLog, type LogOptions } from "@iommu-sim/eventlog";
import { ioptSubsystem } from "./iopt/subsystem";
import { mmSubsystem } from "./mm/subsystem";
import { mockDomainSubsystem } from "./mock-domain/subsystem";

/** The subsystems in evolve order: mm first (iopt reads it), the mock domain last (it follows iopt's events). */
export const ioptSubsystems = {
  mm: mmSubsystem,
  iopt: ioptSubsystem,
  mockDomain: mockDomainSubsystem,
} as const;

/** The root decider of `ioptSubsystems`. */
export function ioptDecider() {
  return combine(ioptSubsystems);
}

/** An event log over `ioptDecider()`. */
export function createIoptLog(options?: LogOptions) {
  return createLog(ioptDecider(), options);
}

/** The log type `createIoptLog` returns. */
export type IoptLog = ReturnType<typeof createIoptLog>;
/** Its root state. */
export type IoptSystemState = IoptLog extends EventLog<infer _C, infer _E, infer S> ? S : never;
