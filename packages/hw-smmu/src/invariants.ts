/**
 * Invariants of the `smmu` slice, for tests to check after every command
 * (DESIGN.md "Testing": an invariant checker after every command). Caches
 * may be stale — that is the model — but never malformed.
 */
import { ATC_ENTRIES } from "./atc";
import type { SmmuState } from "./state";

/** Every violated invariant, as a sentence (empty when the state is sound). */
export function checkInvariants(state: SmmuState): string[] {
  const out: string[] = [];
  for (const i of state.instances.values()) {
    const at = `SMMU ${i.id}`;
    if (i.nextFree < i.tableBase || i.nextFree > i.tableEnd)
      out.push(`${at}: allocator outside table memory`);
    if (i.freeFrames.some((f) => f * 4096 < i.tableBase || f * 4096 >= i.nextFree))
      out.push(`${at}: a free frame outside the allocated table memory`);
    if (new Set(i.freeFrames).size !== i.freeFrames.length) out.push(`${at}: a frame freed twice`);
    let entries = 0;
    for (const [tag, set] of i.tlb.tags) {
      const sizes = [...new Set([...set.entries.values()].map((e) => e.log2size))].sort((a, b) => a - b);
      if (sizes.join() !== set.sizes.join())
        out.push(`${at}: TLB tag ${tag} lists sizes ${set.sizes} for ${sizes}`);
      for (const [k, e] of set.entries) {
        if (e.tag !== tag) out.push(`${at}: TLB entry of tag ${e.tag} filed under ${tag}`);
        if (k !== Math.floor(e.base / 2 ** e.log2size) * 64 + e.log2size)
          out.push(`${at}: TLB key ${k} ≠ entry`);
        if (e.base % 2 ** e.log2size !== 0)
          out.push(`${at}: TLB entry base 0x${e.base.toString(16)} unaligned`);
      }
      entries += set.entries.size;
    }
    if (entries !== i.tlb.count) out.push(`${at}: TLB count ${i.tlb.count} ≠ ${entries} entries`);
    if (entries > i.tlb.capacity) out.push(`${at}: TLB holds ${entries} > ${i.tlb.capacity}`);
    if (i.steCache.size > i.cacheSizes.ste) out.push(`${at}: STE cache over capacity`);
    if (i.cdCache.size > i.cacheSizes.cd) out.push(`${at}: CD cache over capacity`);
    for (const [name, q] of [
      ["event queue", i.evtq],
      ["PRI queue", i.priq],
    ] as const) {
      if (q.records.length > 2 ** q.log2size) out.push(`${at}: ${name} over 2^${q.log2size} records`);
      if (q.prod - q.cons !== q.records.length) out.push(`${at}: ${name} PROD − CONS ≠ pending records`);
    }
    for (const [sid, atc] of i.atc)
      if (atc.length > ATC_ENTRIES) out.push(`${at}: ATC of SID ${sid} over capacity`);
    const owners = new Map<string, number>();
    for (const d of i.domains.values())
      for (const a of d.attached) {
        const key = `${a.sid}/${a.ssid ?? "-"}`;
        const prev = owners.get(key);
        if (prev !== undefined) out.push(`${at}: ${key} attached to domains ${prev} and ${d.id}`);
        owners.set(key, d.id);
      }
    if (i.cmdq.error === 0 && i.cmdq.pending.length > 0)
      out.push(`${at}: commands pending on a running queue`);
  }
  return out;
}
