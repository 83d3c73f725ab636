/** The README's example, kept compiling and true. */
import { combine, createLog } from "@iommu-sim/eventlog";
import { IOASID_IOCTL, ioasidAllocRequest } from "@iommu-sim/uapi";
import { expect, it } from "vitest";
import { createIoasid, ioasidIoctl } from "../src/index";

it("runs the README example", () => {
  const dsa = { pasidEnabled: true, groupSize: 1, trusted: true, external: false, onSocket: true };
  const log = createLog(
    combine({ ioasid: createIoasid({ devices: (_root, rid) => (rid === 0x08 ? dsa : undefined) }) }),
  );
  expect(log.dispatch({ type: "ioasid.open", data: { pid: 100 } })).toMatchObject([
    { type: "ioasid.set.allocated" },
    { type: "ioasid.opened", data: { fd: 1, mm: 100 } },
  ]);
  const arg = ioasidAllocRequest.encode({ argsz: 16, range: { min: 1, max: 1000 } });
  expect(ioasidIoctl(log, 100, 1, IOASID_IOCTL.IOASID_REQUEST_ALLOC, arg)).toBe(1);
  expect(log.dispatch({ type: "sva.bind", data: { pid: 100, rid: 0x08, flags: 0 } })).toMatchObject([
    { type: "ioasid.quota.charged" },
    { type: "pasid.allocated", data: { pasid: 2, use: "sva" } },
    { type: "sva.bound", data: { bond: 1, pasid: 2, mm: 100 } },
  ]);
  log.dispatch({ type: "ioasid.process.exit", data: { pid: 100 } });
  expect(log.state.ioasid.space.size).toBe(1);
  expect(log.state.ioasid.cgroups[0]!.usage).toBe(0);
});
