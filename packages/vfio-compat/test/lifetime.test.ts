/**
 * An iommufd context held by VFIO outlives its file (Linux
 * iommufd_ctx_get(): group->iommufd and a bound device's ictx hold the
 * file; iommufd_fops_release runs when the last reference goes): the
 * program may close /dev/vfio/vfio before its group and device fds, as a
 * process exiting closes them in fd order, and the device keeps its DMA
 * translations until the last holder lets go.
 */
import { isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { vfioIommufdRelease } from "../src/index";
import { Machine } from "./vfio-harness";

const EINVAL = -22;
const types = (r: unknown) => (isErrno(r) ? [r.name] : (r as { type: string }[]).map((e) => e.type));

describe("vfio.iommufd.release", () => {
  it("a context nothing holds closes at once; a second release is EBADF", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    m.ioasAlloc(ctx);
    expect(types(m.env.dispatch({ type: "vfio.iommufd.release", data: { ctx } }))).toEqual([
      "ioas.destroyed",
      "iommufd.object.destroyed",
      "iommufd.closed",
    ]);
    expect(m.state.iommufd.contexts[ctx]).toBeUndefined();
    expect(types(m.env.dispatch({ type: "vfio.iommufd.release", data: { ctx } }))).toEqual(["EBADF"]);
  });

  it("a container closed first lives on through its group and device file, and closes with the last", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, ctx);
    const fd = m.deviceFd(2, "0000:03:00.0");
    vfioIommufdRelease(m.env, ctx);
    expect(m.state.vfio.released).toEqual({ [ctx]: true });
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    expect(types(m.env.dispatch({ type: "vfio.iommufd.release", data: { ctx } }))).toEqual(["EBADF"]);
    // the group file closes: the device file still holds the group, and the device the context
    expect(types(m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } }))).toEqual([
      "vfio.group.closed",
    ]);
    expect(m.state.iommufd.contexts[ctx]).toBeDefined();
    // the last device file closes: unbind, the group goes, the context is released at last
    const last = types(m.env.dispatch({ type: "vfio.device.close", data: { file: fd } }));
    expect(last.slice(-2)).toEqual(["iommufd.object.destroyed", "iommufd.closed"]);
    expect(last).toContain("vfio.device.closed");
    expect(m.state.iommufd.contexts[ctx]).toBeUndefined();
    expect(m.state.vfio).toMatchObject({ groups: {}, files: {}, released: {} });
  });

  it("UNSET_CONTAINER can be the last reference", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, ctx);
    vfioIommufdRelease(m.env, ctx);
    expect(m.state.iommufd.contexts[ctx]).toBeDefined();
    expect(m.group(2, VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(m.state.iommufd.contexts[ctx]).toBeUndefined();
    expect(m.status(2)).toEqual([0, 1]);
  });

  it("the group alone holds a released container: its devices stay attached until the group file closes", () => {
    const m = new Machine();
    const ctx = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, ctx);
    vfioIommufdRelease(m.env, ctx);
    expect(m.state.iommufd.contexts[ctx]!.objects[2]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    expect(m.setContainer(2, ctx)).toBe(EINVAL); // the group has its container still
    // nic0 unbound (its auto domain with it), the group closed, then the context's last reference
    // goes: its compat IOAS is destroyed and it closes.
    const closed = types(m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } }));
    expect(closed.indexOf("vfio.group.closed")).toBeGreaterThan(0);
    expect(closed.slice(closed.indexOf("vfio.group.closed"))).toEqual([
      "vfio.group.closed",
      "ioas.destroyed",
      "iommufd.object.destroyed",
      "iommufd.closed",
    ]);
    expect(m.state.iommufd.contexts[ctx]).toBeUndefined();
    expect(m.state.vfio).toMatchObject({ groups: {}, files: {}, released: {} });
  });

  it("a bound cdev file holds its /dev/iommu context", () => {
    const m = new Machine();
    const ctx = m.openIommufd(false);
    const file = m.open("/dev/vfio/devices/vfio1") as number;
    m.bind(file, ctx);
    expect(m.attach(file, m.ioasAlloc(ctx))).toEqual([0, 3]);
    vfioIommufdRelease(m.env, ctx);
    expect(m.state.iommufd.contexts[ctx]!.objects[1]!.attachments).toEqual([{ pasid: 0, hwpt: 3 }]);
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.state.iommufd.contexts[ctx]).toBeUndefined();
  });
});
