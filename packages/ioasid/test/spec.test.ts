/** Given/when/then specs of the decider (eventlog's `specify`), from events alone. */
import { combine, specify } from "@iommu-sim/eventlog";
import type { IoasidEvent } from "@iommu-sim/uapi";
import { describe, it } from "vitest";
import { createIoasid } from "../src/index";
import { DEV, DEVICES, type Root } from "./fixture";

const decider = combine({ ioasid: createIoasid<Root>({ devices: (_r, rid) => DEVICES[rid] }) });
const opened: IoasidEvent[] = [
  { type: "ioasid.set.allocated", data: { mm: 7, cgroup: 0 } },
  { type: "ioasid.opened", data: { pid: 7, fd: 1, mm: 7 } },
];

describe("specs", () => {
  it("given an open fd, when the owner allocates in [3, 9], then it gets PASID 3", () => {
    specify(decider)
      .given(opened)
      .when({ type: "ioasid.alloc", data: { pid: 7, fd: 1, min: 3, max: 9 } })
      .thenEvents([
        { type: "ioasid.quota.charged", data: { cgroup: 0, mm: 7, count: 1 } },
        { type: "pasid.allocated", data: { pasid: 3, use: "ioasid", mm: 7 } },
      ]);
  });

  it("given PASID 3 taken by mm 7, when mm 8 binds SVA, then it gets PASID 1 and a new set", () => {
    specify(decider)
      .given([...opened, { type: "pasid.allocated", data: { pasid: 3, use: "ioasid", mm: 7 } }])
      .when({ type: "sva.bind", data: { pid: 8, rid: DEV.dsa, flags: 0 } })
      .thenEvents([
        { type: "ioasid.set.allocated", data: { mm: 8, cgroup: 0 } },
        { type: "ioasid.quota.charged", data: { cgroup: 0, mm: 8, count: 1 } },
        { type: "pasid.allocated", data: { pasid: 1, use: "sva", mm: 8 } },
        { type: "sva.bound", data: { bond: 1, rid: DEV.dsa, mm: 8, pasid: 1 } },
      ]);
  });

  it("given a group with max 0 holding the process, when it binds SVA, then ENOMEM", () => {
    specify(decider)
      .given([
        { type: "ioasid.cgroup.created", data: { cgroup: 1, parent: 0, max: 0 } },
        { type: "ioasid.cgroup.attached", data: { pid: 8, cgroup: 1 } },
      ])
      .when({ type: "sva.bind", data: { pid: 8, rid: DEV.dsa, flags: 0 } })
      .thenFails("ENOMEM");
  });

  it("given the direct map not allowed, when a trusted on-socket device asks, then EPERM", () => {
    specify(decider)
      .given([])
      .when({ type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } })
      .thenFails("EPERM");
  });
});
