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

/** undefined: not tried yet; null: unavailable in this process. */
let loaded: MapSlot | null | undefined;

/**
 * The addon's mapSlot, built and loaded on the first call; undefined when
 * it is unavailable (the reason is not an error: pread/pwrite serve) or
 * when IOMMU_SIM_SLOT_MAP=0 is set (to measure or test the fallback).
 */
export function slotMapper(env: NodeJS.ProcessEnv = process.env): MapSlot | undefined {
  if (env.IOMMU_SIM_SLOT_MAP === "0") return undefined;
  if (loaded === undefined) loaded = load(env);
  return loaded ?? undefined;
}

function load(env: NodeJS.ProcessEnv): MapSlot | null {
  try {
    const module = { exports: {} as { mapSlot?: unknown } };
    process.dlopen(module, buildSlotMap(env));
    return typeof module.exports.mapSlot === "function" ? (module.exports.mapSlot as MapSlot) : null;
  } catch {
    return null;
  }
}
