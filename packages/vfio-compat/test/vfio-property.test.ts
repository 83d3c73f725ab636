/**
 * Property: any sequence of group and cdev operations on a platform with a
 * two-device group answers exactly what a naive model of Linux's rules says
 * — one open per group file, the group and cdev paths excluding each other
 * (vfio_group_fops_open / vfio_device_block_group), a device opened by one
 * cdev file at a time, SET_CONTAINER binding the whole group and
 * UNSET_CONTAINER (EBUSY with device files open) or the group's release
 * unbinding it, a bound cdev file unbinding on close, a group's DMA owned
 * by one iommufd (EPERM) — and iommufd's device objects
 * are exactly the devices the model has open, in the contexts it says —
 * and a context whose fd was closed lives exactly as long as a group or a
 * bound device holds it.
 */

import { isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Machine, TWO_DEVICE_GROUP } from "./vfio-harness";

const DEVICES = [
  { name: "nica", pci: "0000:01:00.0", index: 0, group: 7 },
  { name: "nicb", pci: "0000:01:00.1", index: 1, group: 7 },
  { name: "ssd0", pci: "0000:02:00.0", index: 2, group: 8 },
] as const;
const GROUPS = [7, 8, 9]; // 9: no such group

type Op =
  | { op: "openGroup" | "closeGroup" | "unset"; g: number }
  | { op: "set"; g: number; c: 0 | 1 }
  | { op: "getFd"; g: number; d: number }
  | { op: "cdevOpen"; d: number }
  | { op: "bind"; f: number; c: 0 | 1 }
  | { op: "close"; f: number }
  | { op: "release"; c: 0 | 1 };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom("openGroup", "closeGroup", "unset"), g: fc.constantFrom(...GROUPS) }),
  fc.record({ op: fc.constant("set"), g: fc.constantFrom(...GROUPS), c: fc.constantFrom(0, 1) }),
  fc.record({ op: fc.constant("getFd"), g: fc.constantFrom(7, 8), d: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant("cdevOpen"), d: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant("bind"), f: fc.integer({ min: 1, max: 4 }), c: fc.constantFrom(0, 1) }),
  fc.record({ op: fc.constant("close"), f: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("release"), c: fc.constantFrom(0, 1) }),
) as fc.Arbitrary<Op>;

/** The naive model. */
class Model {
  groups = new Map<number, { ctx?: number; fileOpen: boolean }>();
  files = new Map<number, { d: number; group?: number; ctx?: number }>();
  /** device → ctx it is bound to (by its group's container or its bound cdev file). */
  bound = new Map<number, number>();
  /** Contexts whose fd the program closed. */
  released = new Set<number>();
  nextFile = 1;

  /** Whether a group (container) or a file (binding) holds context `ctx`. */
  held(ctx: number): boolean {
    for (const g of this.groups.values()) if (g.ctx === ctx) return true;
    for (const f of this.files.values()) if (f.ctx === ctx) return true;
    return false;
  }
  /** The contexts iommufd still has open. */
  open(ctxs: [number, number]): number[] {
    return ctxs.filter((c) => !this.released.has(c) || this.held(c));
  }

  openers(d: number, except = 0): number {
    let n = 0;
    for (const [id, f] of this.files)
      if (f.d === d && id !== except && (f.group !== undefined || f.ctx !== undefined)) n++;
    return n;
  }
  /** Another context owns group g's DMA. */
  ownedElsewhere(g: number, ctx: number): boolean {
    return DEVICES.some((x) => x.group === g && this.bound.has(x.index) && this.bound.get(x.index) !== ctx);
  }
  cdevBoundIn(g: number): boolean {
    for (const f of this.files.values())
      if (f.group === undefined && f.ctx !== undefined && DEVICES[f.d]!.group === g) return true;
    return false;
  }
  groupHasFiles(g: number): boolean {
    return [...this.files.values()].some((f) => f.group === g);
  }
  /** The group's devices leave its container's context. */
  unbindGroup(g: number): void {
    for (const x of DEVICES) if (x.group === g) this.bound.delete(x.index);
  }
  dropGroupIfDone(g: number): void {
    const grp = this.groups.get(g);
    if (grp !== undefined && !grp.fileOpen && !this.groupHasFiles(g)) {
      if (grp.ctx !== undefined) this.unbindGroup(g);
      this.groups.delete(g);
    }
  }

  apply(o: Op, ctxs: [number, number]): number {
    switch (o.op) {
      case "openGroup":
        if (!DEVICES.some((x) => x.group === o.g)) return -2;
        if (this.groups.has(o.g) || this.cdevBoundIn(o.g)) return -16;
        this.groups.set(o.g, { fileOpen: true });
        return 0;
      case "closeGroup": {
        const g = this.groups.get(o.g);
        if (g?.fileOpen !== true) return -9;
        g.fileOpen = false;
        this.dropGroupIfDone(o.g);
        return 0;
      }
      case "set": {
        const g = this.groups.get(o.g);
        if (g?.fileOpen !== true) return -9;
        if (this.released.has(ctxs[o.c])) return -9;
        if (g.ctx !== undefined) return -22;
        // not viable: a device of the group is bound anywhere (iommu_group_claim_dma_owner)
        if (DEVICES.some((x) => x.group === o.g && this.bound.has(x.index))) return -1;
        g.ctx = ctxs[o.c];
        for (const x of DEVICES) if (x.group === o.g) this.bound.set(x.index, g.ctx);
        return 0;
      }
      case "unset": {
        const g = this.groups.get(o.g);
        if (g?.fileOpen !== true) return -9;
        if (g.ctx === undefined) return -22;
        if (this.groupHasFiles(o.g)) return -16;
        this.unbindGroup(o.g);
        delete g.ctx;
        return 0;
      }
      case "getFd": {
        const g = this.groups.get(o.g);
        if (g?.fileOpen !== true) return -9;
        if (DEVICES[o.d]!.group !== o.g) return -19;
        if (g.ctx === undefined) return -22;
        this.files.set(this.nextFile, { d: o.d, group: o.g, ctx: g.ctx });
        return this.nextFile++;
      }
      case "cdevOpen":
        this.files.set(this.nextFile, { d: o.d });
        return this.nextFile++;
      case "bind": {
        const f = this.files.get(o.f);
        if (f === undefined) return -9;
        if (f.group !== undefined) return -22;
        if (this.groups.has(DEVICES[f.d]!.group)) return -16;
        if (f.ctx !== undefined) return -22;
        // Linux vfio_df_ioctl_bind_iommufd(): the iommufd fd is looked up (EBADF) before
        // vfio_df_open() refuses a device another cdev file has open (EINVAL).
        if (this.released.has(ctxs[o.c])) return -9;
        if (this.openers(f.d, o.f) > 0) return -22;
        if (this.ownedElsewhere(DEVICES[f.d]!.group, ctxs[o.c])) return -1;
        f.ctx = ctxs[o.c];
        this.bound.set(f.d, f.ctx);
        return 0;
      }
      case "close": {
        const f = this.files.get(o.f);
        if (f === undefined) return -9;
        this.files.delete(o.f);
        if (f.group === undefined && f.ctx !== undefined) this.bound.delete(f.d);
        if (f.group !== undefined) this.dropGroupIfDone(f.group);
        return 0;
      }
      case "release":
        if (this.released.has(ctxs[o.c])) return -9;
        this.released.add(ctxs[o.c]);
        return 0;
    }
  }
}

function run(m: Machine, o: Op, ctxs: [number, number]): number {
  const ret = (r: unknown) => (isErrno(r) ? r.ret : 0);
  switch (o.op) {
    case "openGroup":
      return ret(m.open(`/dev/vfio/${o.g}`));
    case "closeGroup":
      return m.state.vfio.groups[o.g]?.fileOpen === true
        ? ret(m.env.dispatch({ type: "vfio.group.close", data: { group: o.g } }))
        : -9;
    case "set":
      return m.setContainer(o.g, ctxs[o.c]);
    case "unset":
      return m.group(o.g, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER);
    case "getFd":
      return m.deviceFd(o.g, DEVICES[o.d]!.pci);
    case "cdevOpen": {
      const f = m.open(`/dev/vfio/devices/vfio${DEVICES[o.d]!.index}`);
      return isErrno(f) ? f.ret : f;
    }
    case "bind":
      return m.bind(o.f, ctxs[o.c])[0];
    case "close":
      return ret(m.env.dispatch({ type: "vfio.device.close", data: { file: o.f } }));
    case "release": {
      if (m.closed.has(ctxs[o.c])) return -9; // the program has no such fd any more
      m.closed.add(ctxs[o.c]);
      return ret(m.env.dispatch({ type: "vfio.iommufd.release", data: { ctx: ctxs[o.c] } }));
    }
  }
}

describe("group/cdev exclusivity against a naive model", () => {
  it("answers and bindings agree after every operation", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const m = new Machine(TWO_DEVICE_GROUP);
        const ctxs: [number, number] = [m.openIommufd(), m.openIommufd(false)];
        const model = new Model();
        for (const o of ops) {
          expect(run(m, o, ctxs), JSON.stringify(o)).toBe(model.apply(o, ctxs));
          const bound = new Map<number, number>();
          for (const ctx of ctxs)
            for (const t of Object.values(m.objects(ctx)))
              if (t.startsWith("device:"))
                bound.set(
                  DEVICES.findIndex((x) => `device:${x.name}` === t),
                  ctx,
                );
          expect(bound).toEqual(model.bound);
          const open = ctxs.filter((c) => m.state.iommufd.contexts[c] !== undefined);
          expect(open).toEqual(model.open(ctxs));
        }
      }),
      {
        numRuns: 200,
        // the chains that matter, besides the random ones: a held context closing with its last holder
        examples: [
          // binding a second cdev file of an open device to a released iommufd: EBADF (the fd
          // lookup) before EINVAL (vfio_df_open: another file has the device) — found by this test
          [
            [
              { op: "release", c: 1 },
              { op: "cdevOpen", d: 0 },
              { op: "cdevOpen", d: 2 },
              { op: "bind", f: 2, c: 0 },
              { op: "cdevOpen", d: 2 },
              { op: "bind", f: 3, c: 1 },
            ],
          ],
          // UNSET is EBUSY while a device file is open; the whole group is bound, then unbound
          [
            [
              { op: "openGroup", g: 7 },
              { op: "set", g: 7, c: 0 },
              { op: "getFd", g: 7, d: 1 },
              { op: "unset", g: 7 },
              { op: "close", f: 1 },
              { op: "unset", g: 7 },
              { op: "set", g: 7, c: 1 },
            ],
          ],
          // a bound cdev blocks its group (EBUSY); once closed the group binds to one context, is released, binds to another
          [
            [
              { op: "cdevOpen", d: 0 },
              { op: "bind", f: 1, c: 1 },
              { op: "openGroup", g: 7 },
              { op: "close", f: 1 },
              { op: "openGroup", g: 7 },
              { op: "set", g: 7, c: 0 },
              { op: "closeGroup", g: 7 },
              { op: "openGroup", g: 7 },
              { op: "set", g: 7, c: 1 },
            ],
          ],
          [
            [
              { op: "openGroup", g: 7 },
              { op: "set", g: 7, c: 0 },
              { op: "getFd", g: 7, d: 0 },
              { op: "release", c: 0 },
              { op: "closeGroup", g: 7 },
              { op: "close", f: 1 },
            ],
          ],
          [
            [
              { op: "cdevOpen", d: 2 },
              { op: "bind", f: 1, c: 1 },
              { op: "release", c: 1 },
              { op: "bind", f: 1, c: 1 },
              { op: "close", f: 1 },
              { op: "openGroup", g: 8 },
              { op: "set", g: 8, c: 1 },
            ],
          ],
        ],
      },
    );
  });
});
