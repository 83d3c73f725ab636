/**
 * The composed system: every subsystem iommufd drives, in evolve order:
 * `mm` and `iopt` (packages/iopt), the selftest `mockDomain`, `iommufd`,
 * the hardware `vtd` and `smmu` (following their IOAS, drivers/follow.ts),
 * `ioasid` (PASIDs, SVA, the system PASID), then any extra subsystems the
 * caller adds.
 */
import {
  combine,
  createLog,
  type EventLog,
  type LogOptions,
  type Message,
  type Subsystem,
} from "@iommu-sim/eventlog";
import { createIoasid } from "@iommu-sim/ioasid";
import { ioptSubsystems } from "@iommu-sim/iopt";
import { isErrno } from "@iommu-sim/uapi";
import { smmuFollowing, vtdFollowing } from "./drivers/follow";
import { withTableSteps } from "./drivers/map-steps";
import { DEFAULT_PLATFORM, type Platform, pasidDevices } from "./platform";
import type { RootEvolve } from "./root";
import { createIommufd } from "./subsystem";
import { svaHooks, withSvaFollowing } from "./sva";

// biome-ignore lint/suspicious/noExplicitAny: heterogeneous subsystem map
type Extra = Record<string, Subsystem<any, any, any, any>>;

/** Table memory of VT-d unit n: 1 GiB (hw-vtd's default size) at 0x10_0000_0000 + n GiB. */
export const VTD_TABLE_BASE = 0x10_0000_0000n;
/** Table memory of SMMU instance n: 1 GiB at 0x20_0000_0000 + n GiB. */
export const SMMU_TABLE_BASE = 0x20_0000_0000n;
const GiB = 0x4000_0000n;

/**
 * The commands that add the platform's IOMMU units, in platform order: VT-d
 * units `vtd.unit.add {unit: n}` and SMMU instances `smmu.instance.add
 * {instance: n}`, n counting the units of each kind from 0, each with its
 * own table memory (the platform's `tableBytes`, else 1 GiB) and the
 * platform's register overrides. Mock units need no command.
 */
export function platformUnitCommands(platform: Platform): Message[] {
  const out: Message[] = [];
  let nv = 0;
  let ns = 0;
  for (const u of platform.iommus) {
    if (u.kind === "vtd") {
      const n = nv++;
      out.push({
        type: "vtd.unit.add",
        data: {
          unit: n,
          tableBase: VTD_TABLE_BASE + BigInt(n) * GiB,
          ...(u.tableBytes === undefined ? {} : { tableFrames: Number(BigInt(u.tableBytes) / 4096n) }),
          ...(u.cap === undefined ? {} : { cap: BigInt(u.cap) }),
          ...(u.ecap === undefined ? {} : { ecap: BigInt(u.ecap) }),
        },
      });
    } else if (u.kind === "smmu") {
      const n = ns++;
      out.push({
        type: "smmu.instance.add",
        data: {
          instance: n,
          tableBase: SMMU_TABLE_BASE + BigInt(n) * GiB,
          tableSize: u.tableBytes === undefined ? GiB : BigInt(u.tableBytes),
          ...(u.idr === undefined ? {} : { idr: [...u.idr] }),
        },
      });
    }
  }
  return out;
}

/**
 * The root decider of the whole system on `platform` (default
 * DEFAULT_PLATFORM: its devices can be bound; its PASID-capable devices
 * are what ioasid's SVA and system-PASID checks see), with `extra`
 * subsystems (vfio-compat's, later) evolved after the hardware and ioasid.
 */
export function createSystem<X extends Extra = Record<never, never>>(
  extra?: X,
  platform: Platform = DEFAULT_PLATFORM,
) {
  let evolve: RootEvolve | undefined;
  // withTableSteps: a map's IO page-table pages are fail-nth points (drivers/map-steps.ts).
  const decider = withTableSteps(
    combine({
      ...ioptSubsystems,
      iommufd: createIommufd({ evolve: () => evolve!, platform }),
      vtd: withSvaFollowing(vtdFollowing),
      smmu: smmuFollowing,
      ioasid: createIoasid({ devices: pasidDevices(platform), sva: svaHooks(platform) }),
      ...(extra ?? ({} as X)),
    }),
  );
  evolve = decider.evolve as unknown as RootEvolve;
  return decider;
}

/** The system's root state (without extras). */
export type SystemState = ReturnType<typeof createSystem>["initialState"];

/**
 * An event log over `createSystem(extra, platform)` with no record yet:
 * the target of `append` / `replay` of a recorded log, which begins with
 * its own unit commands.
 */
export function createEmptySystemLog<X extends Extra = Record<never, never>>(
  options?: LogOptions,
  extra?: X,
  platform: Platform = DEFAULT_PLATFORM,
): EventLog<Message, Message, ReturnType<typeof createSystem<X>>["initialState"]> {
  return createLog(createSystem(extra, platform) as never, options) as EventLog<
    Message,
    Message,
    ReturnType<typeof createSystem<X>>["initialState"]
  >;
}

/**
 * An event log over `createSystem(extra, platform)` that starts with the
 * platform's unit commands (`platformUnitCommands`), so a replay rebuilds
 * the units.
 * @throws Error if a unit cannot be added (a platform the hardware models refuse).
 */
export function createSystemLog<X extends Extra = Record<never, never>>(
  options?: LogOptions,
  extra?: X,
  platform: Platform = DEFAULT_PLATFORM,
): EventLog<Message, Message, ReturnType<typeof createSystem<X>>["initialState"]> {
  const log = createEmptySystemLog(options, extra, platform);
  for (const c of platformUnitCommands(platform)) {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`platform unit ${c.type}: ${r}`);
  }
  return log;
}
