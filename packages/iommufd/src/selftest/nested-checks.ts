/**
 * The selftest's cache probes (Linux drivers/iommu/iommufd/selftest.c):
 * IOMMU_TEST_OP_MD_CHECK_IOTLB (`iommufd_test_md_check_iotlb()`: one entry
 * of a mock nested domain's IOTLB) and IOMMU_TEST_OP_DEV_CHECK_CACHE
 * (`iommufd_test_dev_check_cache()`: one entry of a mock device's cache,
 * `mock_dev.cache[MOCK_DEV_CACHE_NUM]`). Both answer 0 when the entry
 * holds the expected value, else EINVAL.
 *
 * A mock device's cache starts at IOMMU_TEST_DEV_CACHE_DEFAULT in every
 * entry (`mock_dev_create()`), and only a vIOMMU invalidation
 * (`mock_viommu_cache_invalidate()`, selftest/viommu.ts) changes it: the
 * device object's `devCache`, absent until then.
 */
import {
  type Errno,
  errno,
  IOMMU_TEST_DEV_CACHE_DEFAULT,
  isErrno,
  MOCK_DEV_CACHE_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
} from "@iommu-sim/uapi";
import { objectDevice } from "../devices";
import { getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import { mockNestedDomain } from "./nested";

/**
 * MD_CHECK_IOTLB: entry `iotlbId` of the IOTLB of nested HWPT `hwptId`
 * equals `iotlb`. ENOENT no nested HWPT `hwptId`; EINVAL a nested HWPT of
 * a hardware driver (not the mock's), `iotlbId` > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX
 * (3), or another value.
 */
export function mdCheckIotlb(
  root: IommufdRoot,
  ctx: number,
  hwptId: number,
  iotlbId: number,
  iotlb: number,
): Errno | undefined {
  const c = getContext(root.iommufd, ctx);
  if (isErrno(c)) return c;
  const hwpt = getObject(c, hwptId, "hwpt_nested");
  if (isErrno(hwpt)) return hwpt;
  const d = mockNestedDomain(root.iommufd, hwpt.kobj);
  if (d === undefined) return errno("EINVAL", "not a mock nested domain");
  if (iotlbId > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) return errno("EINVAL", `iotlb id ${iotlbId} out of range`);
  if (d.iotlb[iotlbId] !== iotlb) return errno("EINVAL", `iotlb[${iotlbId}] = ${d.iotlb[iotlbId]}`);
  return undefined;
}

/**
 * DEV_CHECK_CACHE: entry `cacheId` of mock device `devId`'s cache equals
 * `cache`. ENOENT no device object `devId`; EINVAL a platform device (it
 * has no mock cache), `cacheId` > MOCK_DEV_CACHE_ID_MAX (3), or another
 * value (IOMMU_TEST_DEV_CACHE_DEFAULT, 0xbaddad, until an invalidation).
 */
export function devCheckCache(
  root: IommufdRoot,
  ctx: number,
  devId: number,
  cacheId: number,
  cache: number,
): Errno | undefined {
  const c = getContext(root.iommufd, ctx);
  if (isErrno(c)) return c;
  const dev = getObject(c, devId, "device");
  if (isErrno(dev)) return dev;
  if (objectDevice(root.iommufd, dev) !== undefined) return errno("EINVAL", "not a mock device");
  if (cacheId > MOCK_DEV_CACHE_ID_MAX) return errno("EINVAL", `cache id ${cacheId} out of range`);
  const value = dev.devCache?.[cacheId] ?? IOMMU_TEST_DEV_CACHE_DEFAULT;
  if (cache !== value) return errno("EINVAL", `cache[${cacheId}] = 0x${value.toString(16)}`);
  return undefined;
}
