import { describe, expect, it } from "vitest";
import {
  IOASID_IOCTL,
  IOMMU_IOCTL,
  IOMMUFD_CMD,
  IOMMUFD_IOCTL_OPS,
  iommufdIoctlOp,
  iommufdIoctlOpByName,
  VFIO_IOCTL,
} from "../src/index";
import {
  type Golden,
  IOASID_GOLDEN,
  IOASID_IOCTL_GOLDEN,
  IOMMUFD_GOLDEN,
  IOMMUFD_IOCTL_GOLDEN,
  IOMMUFD_MIN_SIZE,
  LEGACY_GOLDEN,
  SELFTEST_GOLDEN,
  VFIO_GOLDEN,
  VFIO_IOCTL_GOLDEN,
} from "./golden";
import { ALL_LAYOUTS, layoutNamed } from "./layouts";

function checkGolden(title: string, golden: Golden): void {
  describe(title, () => {
    for (const [name, [size, offsets]] of Object.entries(golden)) {
      it(`${name}: sizeof = ${size} and every offset as in the header`, () => {
        const l = layoutNamed(name);
        expect(l.size).toBe(size);
        for (const [field, off] of Object.entries(offsets))
          expect([field, l.offsetOf(field)]).toEqual([field, off]);
        // Every top-level member of a struct without an anonymous union is in the golden table.
        if (!l.fields.some((f) => f.inUnion)) {
          expect(l.fields.map((f) => f.name).sort()).toEqual(Object.keys(offsets).sort());
        }
      });
    }
  });
}

checkGolden("iommufd layouts (iommufd.h, Linux v6.17)", IOMMUFD_GOLDEN);
checkGolden("selftest layouts (iommufd_test.h, Linux v6.17)", SELFTEST_GOLDEN);
checkGolden("VFIO layouts (vfio.h, Linux v6.17)", VFIO_GOLDEN);
checkGolden("/dev/ioasid layouts (RFC)", IOASID_GOLDEN);
checkGolden("old IOMMU UAPI layouts (iommu.h, Linux v5.10)", LEGACY_GOLDEN);

describe("golden coverage", () => {
  it("every exported layout has a golden entry", () => {
    const golden = new Set(
      [IOMMUFD_GOLDEN, SELFTEST_GOLDEN, VFIO_GOLDEN, IOASID_GOLDEN, LEGACY_GOLDEN].flatMap((g) =>
        Object.keys(g),
      ),
    );
    // Named unions and anonymous sub-structs are checked through their parents.
    const unchecked = ALL_LAYOUTS.filter((l) => !golden.has(l.name) && l.kind === "struct").map(
      (l) => l.name,
    );
    expect(unchecked).toEqual(["ioasid_alloc_request.range"]);
  });

  it("every layout cites its source file and kernel version", () => {
    for (const l of ALL_LAYOUTS)
      expect(l.source).toMatch(
        /^(include|drivers)\/[\w/.-]+\.h \((Linux v\d+\.\d+|\/dev\/ioasid RFC, 2021)\)$/,
      );
  });
});

describe("iommufd ioctl numbers", () => {
  it("every IOMMU_* request number equals _IO(';', nr) as in iommufd.h", () => {
    expect(IOMMU_IOCTL).toEqual(IOMMUFD_IOCTL_GOLDEN);
  });

  it("commands run from IOMMU_DESTROY (0x80) to IOMMU_HW_QUEUE_ALLOC (0x94) without gaps", () => {
    const nrs = Object.values(IOMMUFD_CMD);
    expect(nrs).toEqual(Array.from({ length: 0x94 - 0x80 + 1 }, (_, i) => 0x80 + i));
  });

  it("the op table's minimum sizes are offsetofend of IOCTL_OP's last member (main.c)", () => {
    const got = Object.fromEntries(IOMMUFD_IOCTL_OPS.map((o) => [o.name, [o.last, o.minSize]]));
    expect(got).toEqual(IOMMUFD_MIN_SIZE);
  });

  it("looks commands up by number and name; unknown numbers and wrong dir/size bits miss", () => {
    expect(iommufdIoctlOp(0x3b85)?.name).toBe("IOMMU_IOAS_MAP");
    expect(iommufdIoctlOpByName("IOMMU_IOAS_UNMAP")?.ioctl).toBe(0x3b86);
    expect(iommufdIoctlOp(0x3b95)).toBeUndefined();
    expect(iommufdIoctlOp(0xc0283b85)).toBeUndefined(); // _IOWR(';', 0x85, 40)
  });
});

describe("VFIO and /dev/ioasid ioctl numbers", () => {
  it("VFIO numbers are _IO(';', 100 + n) as in vfio.h", () => {
    expect(VFIO_IOCTL).toEqual(VFIO_IOCTL_GOLDEN);
  });
  it("/dev/ioasid numbers are _IO('i', 100 + n) as the RFC's #defines", () => {
    expect(IOASID_IOCTL).toEqual(IOASID_IOCTL_GOLDEN);
  });
});
