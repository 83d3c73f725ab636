/**
 * A session of group and cdev operations written as JSON Lines, validated
 * line by line against the system VOCABULARY (the `vfio.` messages
 * included) and replayed into an empty log: the same state hash.
 */
import { encodeLog, type LogRecord, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { IOMMU_HWPT_ALLOC_PASID, VFIO_IOCTL, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptyVfioSystemLog } from "../src/index";
import { bytes } from "./harness";
import { Machine } from "./vfio-harness";

describe("JSONL replay of VFIO files", () => {
  it("validates every record and reaches the same state", async () => {
    const m = new Machine();
    const container = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, container);
    const va = m.mmap(0x1_0000n);
    const map = bytes(32, [
      [0, 4, 32],
      [4, 4, 3],
      [8, 8, va],
      [16, 8, 0x10_0000n],
      [24, 8, 0x1_0000n],
    ]);
    expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    const fd = m.deviceFd(2, "0000:03:00.0");
    const cdevCtx = m.openIommufd(false);
    const cdev = m.open("/dev/vfio/devices/vfio0") as number; // accel0
    expect(m.bind(cdev, cdevCtx)).toEqual([0, 1]);
    const pasidHwpt = m.hwptAlloc(cdevCtx, 1, m.ioasAlloc(cdevCtx), IOMMU_HWPT_ALLOC_PASID);
    expect(m.attach(cdev, pasidHwpt, 7)).toEqual([0, pasidHwpt]);
    m.env.dispatch({ type: "vfio.group.close", data: { group: 2 } }); // lingers: fd holds it
    m.env.dispatch({ type: "vfio.device.close", data: { file: fd } });
    expect(m.state.vfio.groups).toEqual({});
    m.env.dispatch({ type: "vfio.iommufd.release", data: { ctx: cdevCtx } }); // held by the cdev file
    m.env.dispatch({ type: "vfio.device.close", data: { file: cdev } }); // its last holder: the context closes
    expect(m.state.iommufd.contexts[cdevCtx]).toBeUndefined();

    const opened = await readLog(textSource(encodeLog(m.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "vfio.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    expect(records.length).toBe(m.log.records.length);
    expect(records.filter((r) => r.type.startsWith("vfio.")).length).toBeGreaterThan(10);
    const replayed = createEmptyVfioSystemLog();
    expect(stateHash(replayed.replay(records))).toBe(stateHash(m.log.state));
  });
});
