/**
 * The daemon's model (src/model.ts): `retain` bounds the records its log
 * keeps in memory (exec and serve pass DAEMON_RETAIN, 65,536), without
 * changing the state it reaches.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { DEFAULT_PLATFORM } from "@iommu-sim/iommufd";
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createModel } from "../src/model";

/** 4,000 open/close pairs of /dev/iommu contexts by process 7: 2 commands and their events each. */
function churn(model: ReturnType<typeof createModel>): void {
  expect(isErrno(model.log.dispatch({ type: "mm.spawn", data: { pid: 7 } }))).toBe(false);
  for (let i = 0; i < 4000; i++) {
    const opened = model.log.dispatch({ type: "iommufd.open", data: { pid: 7, vfio: false } });
    if (isErrno(opened)) throw new Error(String(opened));
    const ctx = (opened[0]!.data as { ctx: number }).ctx;
    expect(isErrno(model.log.dispatch({ type: "iommufd.close", data: { ctx } }))).toBe(false);
  }
}

describe("the model's log", () => {
  it("with retain keeps only about that many recent records, and reaches the same state", () => {
    const full = createModel(DEFAULT_PLATFORM);
    const bounded = createModel(DEFAULT_PLATFORM, { retain: 64 });
    churn(full);
    churn(bounded);
    expect(bounded.log.seq).toBe(full.log.seq);
    expect(full.log.records.length).toBe(full.log.seq);
    // Trimmed back to the newest snapshot (every 4,096 records) that leaves 64 after it.
    expect(full.log.seq).toBeGreaterThan(3 * 4096);
    expect(bounded.log.records.length).toBeGreaterThanOrEqual(64);
    expect(bounded.log.records.length).toBeLessThanOrEqual(64 + 4096);
    expect(bounded.log.records.at(-1)).toEqual(full.log.records.at(-1));
    expect(stateHash(bounded.log.state)).toBe(stateHash(full.log.state));
  });
});
