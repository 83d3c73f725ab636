import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  allocObjectId,
  createSystem,
  decideClose,
  decideDestroy,
  type IommufdContext,
  type IommufdObject,
  type IommufdRoot,
  type IommufdState,
  leafFirstOrder,
} from "../src/index";

function ctxWith(objects: IommufdObject[]): IommufdContext {
  return {
    id: 1,
    pid: 1,
    vfio: false,
    accountMode: "user",
    objects: Object.fromEntries(objects.map((o) => [o.id, o])),
  };
}
const stateOf = (c: IommufdContext) => {
  const iommufd: IommufdState = { contexts: { 1: c }, hwDomains: {}, nextContext: 2, nextKobj: 1 };
  return { ...createSystem().initialState, iommufd } as unknown as IommufdRoot;
};

describe("object table (types without effects in other slices)", () => {
  it("allocates the lowest free id from 1, reusing freed ids (xa_alloc, XA_FLAGS_ALLOC1)", () => {
    expect(allocObjectId(ctxWith([]))).toBe(1);
    const c = ctxWith([
      { id: 1, type: "viommu", refs: [] },
      { id: 3, type: "viommu", refs: [] },
    ]);
    expect(allocObjectId(c)).toBe(2);
  });

  it("destroy: ENOENT for id 0 or unknown, EBUSY while used or driver-held, else one event", () => {
    const c = ctxWith([
      { id: 1, type: "viommu", refs: [] },
      { id: 2, type: "veventq", refs: [1] },
      { id: 3, type: "device", refs: [2], external: 1 },
    ]);
    const s = stateOf(c);
    expect(isErrno(decideDestroy(s, 1, 0)) && (decideDestroy(s, 1, 0) as { name: string }).name).toBe(
      "ENOENT",
    );
    expect((decideDestroy(s, 1, 1) as { name: string }).name).toBe("EBUSY");
    expect((decideDestroy(s, 1, 2) as { name: string }).name).toBe("EBUSY");
    expect((decideDestroy(s, 1, 3) as { name: string }).name).toBe("EBUSY");
    expect((decideDestroy(s, 9, 1) as { name: string }).name).toBe("EBADF");
    const ok = stateOf(ctxWith([{ id: 4, type: "viommu", refs: [] }]));
    expect(decideDestroy(ok, 1, 4)).toEqual([
      { type: "iommufd.object.destroyed", data: { ctx: 1, id: 4, type: "viommu" } },
    ]);
  });

  it("close sweeps ids in order, destroying what became a leaf earlier in the same sweep", () => {
    // 1 is used by 4; 5 is used by 3. Linux's sweep 1: skip 1, destroy 3 (5 becomes a leaf),
    // destroy 4 (1 becomes a leaf), destroy 5; sweep 2: destroy 1.
    const c = ctxWith([
      { id: 1, type: "viommu", refs: [] },
      { id: 3, type: "vdevice", refs: [5] },
      { id: 4, type: "veventq", refs: [1] },
      { id: 5, type: "viommu", refs: [] },
    ]);
    expect(leafFirstOrder(c).map((o) => o.id)).toEqual([3, 4, 5, 1]);
    const system = createSystem();
    const events = decideClose(stateOf(c), 1, system.evolve as never) as {
      type: string;
      data: { id?: number };
    }[];
    expect(events.map((e) => e.data.id ?? e.type)).toEqual([3, 4, 5, 1, "iommufd.closed"]);
  });
});
