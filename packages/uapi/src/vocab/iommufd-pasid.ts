/**
 * Commands and events of the selftest's PASID ops on mock devices (Linux
 * drivers/iommu/iommufd/selftest.c iommufd_test_pasid_attach / _replace /
 * _detach → iommufd_device_attach / _replace / _detach at a PASID).
 * `stdevId` is the mock device's selftest object id (MOCK_DOMAIN's
 * out_stdev_id). Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { ObjectId, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const StdevId = UInt(32, "selftest object id of the mock device");
const Pasid = UInt(32, "PASID (a mock device's width is MOCK_PASID_WIDTH = 20 bits)");
const PtId = UInt(32, "IOAS, paging or nested HWPT object id");

/** The mock-device PASID messages, spread into `iommufdMessages`. */
export const iommufdPasidMessages = [
  command(
    "iommufd.selftest.pasid_attach",
    Type.Object({ ctx: Ctx, stdevId: StdevId, pasid: Pasid, ptId: PtId }),
    "IOMMU_TEST_OP_PASID_ATTACH: attach one PASID of a mock device (iommufd_device_attach at a PASID)",
  ),
  command(
    "iommufd.selftest.pasid_replace",
    Type.Object({ ctx: Ctx, stdevId: StdevId, pasid: Pasid, ptId: PtId }),
    "IOMMU_TEST_OP_PASID_REPLACE: move an attached PASID of a mock device (iommufd_device_replace)",
  ),
  command(
    "iommufd.selftest.pasid_detach",
    Type.Object({ ctx: Ctx, stdevId: StdevId, pasid: Pasid }),
    "IOMMU_TEST_OP_PASID_DETACH: detach one PASID of a mock device (iommufd_device_detach)",
  ),
  event(
    "iommufd.selftest.pasid_set",
    Type.Object({
      ctx: Ctx,
      id: ObjectId("the selftest object"),
      pasid: UInt(20, "the PASID (never 0)"),
      hwpt: UInt(32, "HWPT object id; 0 = detached"),
    }),
    "a mock device's attachment at one PASID changed",
  ),
] as const satisfies readonly MessageDef[];
