import { describe, expect, it } from "vitest";
import { mapDelete, mapSet } from "../src/index";

describe("mapSet / mapDelete", () => {
  it("return updated copies and leave the original as it was", () => {
    const m: ReadonlyMap<number, string> = new Map([[1, "a"]]);
    const set = mapSet(m, 2, "b");
    const del = mapDelete(set, 1);
    expect([...m]).toEqual([[1, "a"]]);
    expect([...set]).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    expect([...del]).toEqual([[2, "b"]]);
  });
});
