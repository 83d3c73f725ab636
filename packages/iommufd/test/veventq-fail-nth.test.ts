/**
 * A fail-nth sweep over a vEVENTQ session of the selftest mock, in the
 * manner of tools/testing/selftests/iommu/iommufd_fail_nth.c: mock device
 * → NEST_PARENT HWPT → vIOMMU → nested HWPT → vDEVICE → RID attach →
 * IOMMU_VEVENTQ_ALLOC (depth 2) → three TRIGGER_VEVENTs (the third lost)
 * → read of the two vEVENTs → read of the lost-events header alone. For
 * every N until the session runs clean, the Nth fallible step fails: that
 * ioctl or read returns an errno and leaves the state hash as before it,
 * and closing the context frees every object and queue. Then a JSONL
 * replay of such a session reaches the same state hash, queue included.
 */
import { encodeLog, readLog, stateHash, sweepFailNth, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, IOMMU_TEST_OP, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptySystemLog, createSystem, iommufdFileRead } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { sweepSteps } from "./nested-support";
import { type SeqStep, STACK_STEPS, VIOMMU_STACK, ViommuSeq } from "./viommu-support";

const VEVENTQ_TYPE_SELFTEST = 0xbeefbeef;

class Seq extends ViommuSeq {
  veventq = 0;

  /** read(2) of `n` bytes on the vEVENTQ: the byte count, or −errno. */
  read(n: number): number {
    const r = iommufdFileRead(this.fd.env(), { kind: "veventq", ctx: this.fd.ctx, id: this.veventq }, n);
    return r instanceof Uint8Array ? r.length : r.ret;
  }
}

type Step = SeqStep<Seq>;
const { viommu, nested } = STACK_STEPS;

const vdevice: Step = (f) => f.vdeviceAlloc(f.viommu, f.dev, 0x99n)[0];
const attach: Step = (f) => f.mockReplace(f.stdev, f.nested);
const veventq: Step = (f) => {
  const arg = bytes(32, [
    [0, 4, 32],
    [8, 4, f.viommu],
    [12, 4, VEVENTQ_TYPE_SELFTEST],
    [16, 4, 2],
  ]);
  const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_VEVENTQ_ALLOC, arg);
  f.veventq = view(arg).getUint32(20, true);
  return rc;
};
const trigger: Step = (f) => f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_VEVENT, 0, [[0, 4, f.dev]])[0];
/** The two vEVENTs: 2 × (8-byte header + 4-byte virt_id). */
const readEvents: Step = (f) => (f.read(24) === 24 ? 0 : -1);
/** The lost-events header alone: 8 bytes. */
const readLost: Step = (f) => {
  const n = f.read(8);
  return n < 0 ? n : n === 8 ? 0 : -1;
};

const SEQUENCE: Step[] = [
  ...VIOMMU_STACK,
  vdevice,
  attach,
  veventq,
  trigger,
  trigger,
  trigger,
  readEvents,
  readLost,
];

describe("fail-nth sweep: mock vEVENTQ", () => {
  it("every fallible step fails cleanly and closing frees everything", () => {
    const sites = sweepSteps(
      () => Seq.fresh(),
      SEQUENCE,
      (f) => {
        const s = f.log.state;
        expect(s.iommufd.contexts).toEqual({});
        expect(s.iommufd.veventqs ?? {}).toEqual({});
        expect(s.iommufd.mockNested ?? {}).toEqual({});
        expect(s.mockDomain.domains.size).toBe(0);
      },
    );
    for (const site of [
      "iommufd.veventq_alloc",
      "iommufd.veventq_getfile",
      "iommufd.vevent_alloc",
      "iommufd.vevent_lost_copy",
    ])
      expect(sites).toContain(site);
  });

  it("IOMMU_VEVENTQ_ALLOC: its two fault points fail without events (decider sweep)", () => {
    const f = new Seq();
    const [rc, id] = f.viommuAlloc(f.idev, f.parent);
    expect(rc).toBe(0);
    const command = {
      type: "iommufd.veventq.alloc",
      data: { ctx: f.fd.ctx, flags: 0, viommuId: id, type: VEVENTQ_TYPE_SELFTEST, depth: 2 },
    };
    const report = sweepFailNth(createSystem() as never, f.log.state, command as never);
    expect(report.sites).toEqual(["iommufd.veventq_alloc", "iommufd.veventq_getfile"]);
  });
});

describe("the log of a vEVENTQ session", () => {
  it("round-trips through JSON Lines (validated) and replays to the same state hash", async () => {
    const f = new Seq();
    f.dev = f.idev;
    for (const step of [viommu, nested, vdevice, attach, veventq, trigger, trigger, trigger])
      expect(step(f)).toBe(0);
    expect(f.read(12)).toBe(12); // sequence 0 read; 1 and the lost-events header (2) wait
    const opened = await readLog(textSource(encodeLog(f.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
    });
    const fresh = createEmptySystemLog();
    for await (const batch of opened.batches) fresh.append(batch);
    expect(stateHash(fresh.state)).toBe(stateHash(f.log.state));
    const kobj = fresh.state.iommufd.contexts[f.fd.ctx]!.objects[f.veventq]!.kobj!;
    const q = fresh.state.iommufd.veventqs![kobj]!;
    expect(q.deliver.map((v) => [v.sequence, [...v.data]])).toEqual([[1, [0x99, 0, 0, 0]]]);
    expect(q.lost).toBe(2);
    expect(q.sequence).toBe(3);
  });
});
