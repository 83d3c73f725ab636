/**
 * The devices' Address Translation Caches (PCIe ATS): what a device caches
 * from ATS Translation Completions and uses for Translated requests that
 * bypass SMMU translation, until CMD_ATC_INV (an ATS Invalidate Request)
 * removes it.
 *
 * Sources: PCIe Base Specification §10 (ATS: translation requests,
 * invalidation; an Invalidate Request without a PASID prefix also hits the
 * PASID-tagged entries of its range); Arm IHI 0070 §3.9 (ATS, STE.EATS),
 * §4.5 (CMD_ATC_INV: SID, SSV/SSID, Size = log2 of 4 KiB pages, Address);
 * Linux arm-smmu-v3.c arm_smmu_atc_inv_to_cmd (the comment on
 * substream_valid) and arm_smmu_atc_inv_domain.
 *
 * Model: per StreamID, at most `ATC_ENTRIES` entries, FIFO; one entry per
 * translated leaf (base, size, PA, permissions), tagged with the PASID (−1
 * for none). Kept in the SMMU instance's slice because devices are named
 * by StreamID here.
 */

/** Entries a device's ATC holds (per StreamID). */
export const ATC_ENTRIES = 32;

/** One cached ATS translation. Addresses are numbers (bytes). */
export interface AtcEntry {
  /** PASID the translation was requested with; −1 for none. */
  readonly ssid: number;
  readonly base: number;
  readonly log2size: number;
  readonly pa: number;
  /** PERM_* mask granted by the completion. */
  readonly perm: number;
}

/** The entry translating `ia` for `ssid` with permission `need`, if any. */
export function atcLookup(
  entries: readonly AtcEntry[] | undefined,
  ssid: number,
  ia: number,
  need: number,
): AtcEntry | undefined {
  if (entries === undefined) return undefined;
  for (const e of entries)
    if (e.ssid === ssid && ia >= e.base && ia < e.base + 2 ** e.log2size && (e.perm & need) !== 0) return e;
  return undefined;
}

/** Add an entry (replacing one for the same PASID/base/size), evicting the oldest beyond `ATC_ENTRIES`. */
export function atcFill(entries: readonly AtcEntry[] | undefined, e: AtcEntry): readonly AtcEntry[] {
  const kept = (entries ?? []).filter(
    (x) => !(x.ssid === e.ssid && x.base === e.base && x.log2size === e.log2size),
  );
  const next = [...kept, e];
  return next.length > ATC_ENTRIES ? next.slice(next.length - ATC_ENTRIES) : next;
}

/**
 * CMD_ATC_INV on one device's entries: 2^size 4 KiB pages from `addr`
 * (aligned down to the span; size ≥ 52 = everything). With a PASID only
 * that PASID's entries go; without, every entry in the range (as the PCIe
 * Invalidate Request without PASID prefix does).
 */
export function atcInvalidate(
  entries: readonly AtcEntry[],
  ssid: number | undefined,
  addr: bigint,
  size: number,
): readonly AtcEntry[] {
  const all = size >= 52;
  const span = 2 ** (12 + Math.min(size, 52));
  const start = all ? 0 : Math.floor(Number(addr) / span) * span;
  const end = all ? Number.POSITIVE_INFINITY : start + span;
  return entries.filter(
    (e) => !((ssid === undefined || e.ssid === ssid) && e.base < end && start < e.base + 2 ** e.log2size),
  );
}
