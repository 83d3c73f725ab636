import { errno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { combine, type Subsystem, specify, sweepFailNth } from "../src/index";
import { system } from "./fixture";

describe("combine", () => {
  type Root = { a: number; b: string[] };
  type Cmd = { type: string; data: unknown };
  const a: Subsystem<Cmd, Cmd, number, Root> = {
    commands: ["x."],
    events: ["x."],
    initialState: 0,
    decide: (_s, c) => [{ type: "x.done", data: c.type }],
    evolve: (s) => s + 1,
  };
  const b: Subsystem<Cmd, Cmd, string[], Root> = {
    commands: ["x.special."],
    initialState: [],
    decide: (_s, c, ctx) => (ctx.root.a > 0 ? [{ type: "y.special", data: c.type }] : errno("EBUSY")),
    evolve: (s, e, root) => [...s, `${e.type}@a=${root.a}`],
  };
  const root = combine({ a, b });

  it("routes by the longest matching prefix and gives read access to the root", () => {
    const ctx = { step: () => undefined };
    expect(root.decide(root.initialState, { type: "x.special.go", data: 0 }, ctx)).toEqual(errno("EBUSY"));
    const s1 = root.evolve(root.initialState, { type: "x.done", data: 0 });
    expect(root.decide(s1, { type: "x.special.go", data: 0 }, ctx)).toEqual([
      { type: "y.special", data: "x.special.go" },
    ]);
    expect(root.decide(s1, { type: "x.plain", data: 0 }, ctx)).toEqual([{ type: "x.done", data: "x.plain" }]);
  });

  it("evolves listeners in declaration order, later ones seeing earlier slices updated", () => {
    const s = root.evolve(root.initialState, { type: "x.done", data: 0 });
    expect(s).toEqual({ a: 1, b: ["x.done@a=1"] });
    const t = root.evolve(s, { type: "y.other", data: 0 });
    expect(t.a).toBe(1);
    expect(t.b).toEqual(["x.done@a=1", "y.other@a=1"]);
  });
});

describe("specify / sweepFailNth", () => {
  it("given/when/then passes on the right events and fails loudly on the wrong ones", () => {
    const put = { type: "kv.put", data: { key: 3, value: 9n } } as const;
    specify(system)
      .given([])
      .when(put)
      .thenEvents([{ type: "kv.stored", data: { value: 9n, key: 3 } }])
      .thenState((s) => expect(s.kv.entries).toEqual({ 3: 9n }));
    expect(() => specify(system).given().when(put).thenEvents([])).toThrow(/expected events/);
    expect(() => specify(system).given().when(put).thenFails("ENOENT")).toThrow(/expected ENOENT/);
    specify(system)
      .given()
      .when({ type: "kv.del", data: { key: 1 } })
      .thenFails("ENOENT");
  });

  it("sweeps every fallible step", () => {
    const r = sweepFailNth(system, system.initialState, {
      type: "kv.batch",
      data: { keys: [1, 2, 3], value: 0n },
    });
    expect(r).toEqual({ steps: 3, sites: ["kv.alloc[1]", "kv.alloc[2]", "kv.alloc[3]"] });
  });

  it("catches a decider that ignores an injected fault", () => {
    const sloppy = { ...system, decide: () => [{ type: "kv.stored", data: { key: 1, value: 1n } }] as never };
    const withStep = {
      ...sloppy,
      decide: (_s: never, _c: never, ctx: { step(x: string): unknown }) => {
        ctx.step("x");
        return sloppy.decide();
      },
    };
    expect(() => sweepFailNth(withStep as never, system.initialState, { type: "kv.put" } as never)).toThrow(
      /ignored/,
    );
  });
});

describe("specify seals what it is given", () => {
  it("never writes a shared initial state's bulk tables in place", () => {
    const write = { type: "mem.write", data: { pa: 0x10n, bytes: Uint8Array.from([7]) } } as const;
    const written = { type: "mem.written", data: { pa: 0x10n, bytes: Uint8Array.from([7]) } } as const;
    specify(system).given([written]).when(write);
    specify(system).given().when(write);
    expect(system.initialState.mem.frames.readU32(0x10)).toBe(0);
  });
});
