/**
 * Mapping a program's slot into the daemon (native/iommu_sim_slot_map.c, a
 * Node-API addon built from source on first use): with the mapping, a poll
 * is a load from shared memory and a reply a store, instead of a pread and
 * a pwrite system call (≈ 1 µs each on the machine of BENCHMARKS.md).
 * Without a C compiler or Node's headers, or when the addon cannot be
 * loaded, or for a slot that is not sealed against shrinking, the daemon
 * reads and writes the slot with pread/pwrite (slot-io.ts) — same
 * protocol, same answers.
 */
import { buildSlotMap } from "../shim/build";

/**
 * The addon's one export: map `size` bytes of `fd` MAP_SHARED, or a
 * positive errno (EPERM: the file lacks F_SEAL_SHRINK; EINVAL: smaller
 * than `size`; mmap's errno).
 */
export type MapSlot = (fd: number, size: number) => ArrayBuffer | number;

/** The addon's exports. */
interface SlotMapAddon {
  readonly mapSlot: MapSlot;
  /** sched_yield(2). */
  readonly schedYield: () => void;
}

/** undefined: not tried yet; null: unavailable in this process. */
let loaded: SlotMapAddon | null | undefined;

/**
 * The addon's mapSlot, built and loaded on the first call; undefined when
 * it is unavailable (the reason is not an error: pread/pwrite serve) or
 * when IOMMU_SIM_SLOT_MAP=0 is set (to measure or test the fallback).
 */
export function slotMapper(env: NodeJS.ProcessEnv = process.env): MapSlot | undefined {
  if (env.IOMMU_SIM_SLOT_MAP === "0") return undefined;
  return addon(env)?.mapSlot;
}

/**
 * sched_yield(2) through the addon, or undefined without it: the poller
 * yields between looks once a window has gone quiet for a while (shm.ts).
 */
export function schedYield(env: NodeJS.ProcessEnv = process.env): (() => void) | undefined {
  return addon(env)?.schedYield;
}

function addon(env: NodeJS.ProcessEnv): SlotMapAddon | undefined {
  if (loaded === undefined) loaded = load(env);
  return loaded ?? undefined;
}

function load(env: NodeJS.ProcessEnv): SlotMapAddon | null {
  try {
    const module = { exports: {} as { mapSlot?: unknown; schedYield?: unknown } };
    process.dlopen(module, buildSlotMap(env));
    const { mapSlot, schedYield } = module.exports;
    return typeof mapSlot === "function" && typeof schedYield === "function"
      ? { mapSlot: mapSlot as MapSlot, schedYield: schedYield as () => void }
      : null;
  } catch {
    return null;
  }
}
