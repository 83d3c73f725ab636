import { FrameStore } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { summarise } from "../src/logs/summary";

describe("summarise (slices without a summary of their own)", () => {
  it("reports scalars, sizes of map-like members, frames, and skips absent optional members", () => {
    const mapLike = { size: 3, internal: { a: 1, b: 2 } };
    const s = summarise({
      other: {
        n: 7,
        big: 255n,
        list: [1, 2],
        map: new Map([[1, 1]]),
        epochMap: mapLike,
        mem: FrameStore.empty(),
        absent: undefined,
      },
    });
    expect(s.other).toEqual({ n: 7, big: "0xff", list: 2, map: 1, epochMap: 3, mem: "0 frames" });
  });
});
