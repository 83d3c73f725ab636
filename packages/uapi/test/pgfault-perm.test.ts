/** pgfaultPerm: the IOMMU_PGFAULT_PERM_* bits of include/uapi/linux/iommufd.h (READ 1, WRITE 2, EXEC 4, PRIV 8). */
import { describe, expect, it } from "vitest";
import { pgfaultPerm } from "../src/index";

describe("pgfaultPerm", () => {
  it("sets one bit per requested access, as enum iommu_hwpt_pgfault_perm numbers them", () => {
    const none = { read: false, write: false, exec: false, priv: false };
    expect(pgfaultPerm(none)).toBe(0);
    expect(pgfaultPerm({ ...none, read: true, write: true })).toBe(3);
    expect(pgfaultPerm({ ...none, exec: true })).toBe(4);
    expect(pgfaultPerm({ read: true, write: false, exec: true, priv: true })).toBe(13);
  });
});
