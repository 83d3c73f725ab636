/**
 * Event sourcing round trip: a scenario's log (mmap, fork, writes, maps,
 * copies, domain attach/detach, access pins and writes, unmaps) is written
 * as JSON Lines, validated line by line against the system VOCABULARY
 * (@iommu-sim/uapi), replayed with evolve only, and must reach the same
 * state hash — page tables, pins and mock IO page tables re-derived from
 * the semantic events.
 */
import { encodeLog, type LogRecord, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createIoptLog } from "../src/index";
import { BUFFER_SIZE, BUFFER_VA, MOCK_APERTURE_START, PAGE, pattern, Sim } from "./fixture";

function scenario(): Sim {
  const sim = new Sim({ capIpcLock: false });
  sim.write(BUFFER_VA + 100n, pattern(5000, 3));
  const ioas = sim.ioasAlloc();
  const d = sim.mockDomain(ioas);
  sim.map(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
  sim.ok({ type: "mm.fork", data: { parent: 1, child: 2 } });
  const priv = sim.mmap(4n * PAGE, { pid: 2 });
  sim.write(priv, pattern(100, 4), 2);
  const other = sim.ioasAlloc();
  sim.ok({
    type: "ioas.copy",
    data: {
      dstIoas: other,
      srcIoas: ioas,
      srcIova: MOCK_APERTURE_START + PAGE,
      dstIova: MOCK_APERTURE_START,
      length: 2n * PAGE,
      flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE,
    },
  });
  const access = sim.id();
  sim.ok({ type: "iopt.access.create", data: { access, ioas: other } });
  sim.ok({
    type: "iopt.access.pin",
    data: { access, pin: 1, iova: MOCK_APERTURE_START, length: PAGE, write: true },
  });
  sim.ok({
    type: "iopt.access.write",
    data: { access, iova: MOCK_APERTURE_START + 0xffen, bytes: pattern(9, 5) },
  });
  sim.map(other, priv, 4n * PAGE, MOCK_APERTURE_START + 16n * PAGE, undefined, 2);
  sim.mockDomain(other);
  sim.destroyDomain(ioas, d);
  sim.unmap(ioas, 0n, (1n << 64n) - 1n);
  return sim;
}

describe("JSONL replay", () => {
  it("every record validates against VOCABULARY and replay reaches the same state hash", async () => {
    const sim = scenario();
    const text = encodeLog(sim.log.records);
    const opened = await readLog(textSource(text), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "iopt.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    expect(records.length).toBe(sim.log.records.length);
    const replayed = createIoptLog();
    const state = replayed.replay(records as Parameters<typeof replayed.replay>[0]);
    expect(stateHash(state)).toBe(stateHash(sim.state));
  });
});
