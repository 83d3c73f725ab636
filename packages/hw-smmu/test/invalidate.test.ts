/**
 * The unmap hot path applies the driver's post-unmap invalidations directly
 * (invalidateAfterUnmap); it must leave the SMMU exactly as consuming the
 * commands Linux issues (unmapInvalidations → runCommands) does.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocDomain,
  CMDQ_MAX_TLBI_OPS,
  invalidateAfterUnmap,
  runCommands,
  type SmmuInstance,
  s1Tag,
  s2Tag,
  unmapInvalidations,
} from "../src/index";
import { tlbFill } from "../src/tlb";
import { withSmmu } from "./fixture";

/** Instance 0 with a stage-1 domain (id 1, ASID 1) and a stage-2 domain (id 2, VMID 1). */
function instance(): SmmuInstance {
  let s = withSmmu().state.smmu;
  for (const kind of ["s1", "s2"] as const) {
    const r = allocDomain(s, 0, kind);
    if (!("instances" in r)) throw new Error(String(r));
    s = r;
  }
  return s.instances.get(0)!;
}

const entryArb = fc.record({
  tag: fc.constantFrom(s1Tag(0, 1), s1Tag(0, 2), s1Tag(1, 7), s2Tag(1), s2Tag(2)),
  page: fc.nat(2047),
  log2size: fc.constantFrom(12, 21),
});

describe("invalidateAfterUnmap", () => {
  it("does what consuming unmapInvalidations' commands does (property: RIL on/off, both stages, any range)", () => {
    const base = instance();
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 24 }),
        fc.boolean(),
        fc.constantFrom(1, 2),
        fc.nat(2047),
        fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(CMDQ_MAX_TLBI_OPS - 1, CMDQ_MAX_TLBI_OPS)),
        (entries, ril, domain, firstPage, pages) => {
          let tlb = base.tlb;
          for (const e of entries) {
            const ia = Math.floor((e.page * 4096) / 2 ** e.log2size) * 2 ** e.log2size;
            tlb = tlbFill(tlb, {
              tag: e.tag,
              base: ia,
              log2size: e.log2size,
              pa: 0x8000_0000 + ia,
              s1perm: 3,
              s2perm: 3,
              ipa: ia,
            });
          }
          const inst: SmmuInstance = { ...base, tlb, features: { ...base.features, ril } };
          const d = inst.domains.get(domain)!;
          const iova = BigInt(firstPage) * 4096n;
          const length = BigInt(pages) * 4096n;
          const viaCommands = runCommands(inst, unmapInvalidations(inst, d, iova, length));
          const direct = invalidateAfterUnmap(inst, d, iova, length);
          expect([...direct.tlb.tags]).toEqual([...viaCommands.tlb.tags]);
          expect(direct.tlb.count).toBe(viaCommands.tlb.count);
          expect(direct.atc).toEqual(viaCommands.atc);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps the instance itself when nothing was cached", () => {
    const inst = instance();
    expect(invalidateAfterUnmap(inst, inst.domains.get(1)!, 0x1000n, 0x4000n)).toBe(inst);
  });
});
