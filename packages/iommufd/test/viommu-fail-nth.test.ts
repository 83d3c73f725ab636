/**
 * A fail-nth sweep over the vIOMMU ioctl sequence of Linux's
 * FIXTURE_SETUP(iommufd_viommu) + vdevice_cache, in the manner of
 * tools/testing/selftests/iommu/iommufd_fail_nth.c: for every N until the
 * sequence runs clean, a fresh system in which the Nth fallible step of
 * the sequence fails. The failing ioctl returns an errno and leaves the
 * state hash as before it; closing the context then frees everything (no
 * object, no IOAS, no mock domain, no mock nested domain). The structs the
 * ioctls point at are written to process memory before the sweep, so that
 * only the ioctls themselves dispatch commands. Plus a decider-level sweep
 * of IOMMU_VIOMMU_ALLOC with data, and a replay of a vIOMMU session.
 */
import { encodeLog, readLog, stateHash, sweepFailNth, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptySystemLog, createSystem } from "../src/index";
import { bytes } from "./harness";
import { hwptSelftest, sweepSteps } from "./nested-support";
import {
  IOTLB_DEFAULT,
  type SeqStep,
  STACK_STEPS,
  VIOMMU_INV_SELFTEST,
  VIOMMU_STACK,
  VIOMMU_TYPE_SELFTEST,
  ViommuFixture,
  ViommuSeq,
  viommuInv,
} from "./viommu-support";

/** The sweep's fixture: invalidations at scratch +0x100. */
class Seq extends ViommuSeq {
  vdev = 0;

  constructor() {
    super();
    this.poke(this.scratch + 0x100n, viommuInv([0, 0x99, 1], [1, 0x99, 0]));
  }
}

type Step = SeqStep<Seq>;
const { nested } = STACK_STEPS;

const vdevice: Step = (f) => {
  const [rc, id] = f.vdeviceAlloc(f.viommu, f.dev, 0x99n);
  f.vdev = id;
  return rc;
};
const attach: Step = (f) => f.mockReplace(f.stdev, f.nested);
const invalidate: Step = (f) => {
  const arg = bytes(32, [
    [0, 4, 32],
    [4, 4, f.viommu],
    [8, 8, f.scratch + 0x100n],
    [16, 4, VIOMMU_INV_SELFTEST],
    [20, 4, 12],
    [24, 4, 2],
  ]);
  return f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_INVALIDATE, arg);
};

const SEQUENCE: Step[] = [...VIOMMU_STACK, vdevice, attach, invalidate];

describe("fail-nth sweep: mock vIOMMU", () => {
  it("every fallible step fails cleanly and closing frees everything", () => {
    const sites = sweepSteps(
      () => Seq.fresh(),
      SEQUENCE,
      (f) => {
        const s = f.log.state;
        expect(s.iommufd.contexts).toEqual({});
        expect(s.iommufd.mockNested ?? {}).toEqual({});
        expect(s.iopt.ioas.size).toBe(0);
        expect(s.mockDomain.domains.size).toBe(0);
      },
    );
    for (const site of [
      "iommufd.viommu_alloc",
      "iommufd.hwpt_nested_alloc",
      "selftest.nested_domain_alloc",
      "iommufd.vdevice_alloc",
      "iommufd.vdevice_xa_store",
      "selftest.viommu_invalidate",
    ])
      expect(sites).toContain(site);
  });

  it("IOMMU_VIOMMU_ALLOC with data: its one fault point fails without events (decider sweep)", () => {
    const f = new ViommuFixture();
    const command = {
      type: "iommufd.viommu.alloc",
      data: {
        ctx: f.fd.ctx,
        flags: 0,
        type: VIOMMU_TYPE_SELFTEST,
        devId: f.idev,
        hwptId: f.parent,
        dataLen: 8,
        data: bytes(8, [[0, 4, 0xbeef]]),
      },
    };
    const report = sweepFailNth(createSystem() as never, f.log.state, command as never);
    expect(report.sites).toEqual(["iommufd.viommu_alloc"]);
  });
});

describe("the log of a vIOMMU session", () => {
  it("round-trips through JSON Lines (validated) and replays to the same state hash", async () => {
    const f = new Seq();
    f.dev = f.idev;
    const [rc, id] = f.viommuAlloc(f.dev, f.parent, VIOMMU_TYPE_SELFTEST, {
      data: bytes(8, [[0, 4, 0xbeef]]),
    });
    expect(rc).toBe(0);
    f.viommu = id;
    f.poke(f.scratch, hwptSelftest(IOTLB_DEFAULT));
    for (const step of [nested, vdevice, attach, invalidate]) expect(step(f)).toBe(0);
    expect(f.checkDevCacheAll(f.dev, 0)).toEqual([0, 0, 0, 0]);
    const opened = await readLog(textSource(encodeLog(f.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
    });
    const fresh = createEmptySystemLog();
    for await (const batch of opened.batches) fresh.append(batch);
    expect(stateHash(fresh.state)).toBe(stateHash(f.log.state));
    const c = fresh.state.iommufd.contexts[f.fd.ctx]!;
    expect(c.objects[f.viommu]!.type).toBe("viommu");
    expect(c.objects[f.vdev]!.virtId).toBe(0x99n);
    expect(c.objects[f.dev]!.devCache).toEqual([0, 0, 0, 0]);
  });
});
