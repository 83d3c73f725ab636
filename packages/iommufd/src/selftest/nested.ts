/**
 * The selftest mock driver's nested domain (Linux
 * drivers/iommu/iommufd/selftest.c: `struct mock_iommu_domain_nested`,
 * `__mock_domain_alloc_nested()`, `mock_domain_cache_invalidate_user()`).
 * It translates nothing: it is a stage-1 stand-in whose only state is a
 * mock IOTLB of MOCK_NESTED_DOMAIN_IOTLB_NUM u32 entries, each initialised
 * to `iommu_hwpt_selftest.iotlb` and set to 0 by user invalidations, which
 * IOMMU_TEST_OP_MD_CHECK_IOTLB reads back (nested-checks.ts).
 * State: `IommufdState.mockNested`, by the nested domain's global id.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  iommuHwptInvalidateSelftest,
  iommuHwptSelftest,
  isErrno,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_NUM,
} from "@iommu-sim/uapi";
import type { Decided, UserData, UserDataArray, UserInvalidation } from "../drivers/driver";
import { copyUserData, kernelCopy, userArrayEntry } from "../drivers/user-data";
import type { IommufdEvent } from "../messages";
import type { IommufdState, MockNestedDomain } from "../state";

type MockNestedEvent = Extract<IommufdEvent, { type: `iommufd.mock_nested.${string}` }>;

/**
 * Allocate a mock nested domain `kobj` over mock paging domain `parent`
 * from `iommu_hwpt_selftest` user data (selftest.c
 * `__mock_domain_alloc_nested()`): data_type other than
 * IOMMU_HWPT_DATA_SELFTEST → EOPNOTSUPP; then `iommu_copy_struct_from_user`
 * rules — data_len other than 4 (offsetofend(iotlb) = sizeof) → EINVAL,
 * unreadable → EFAULT; ENOMEM at fault point
 * `selftest.nested_domain_alloc` (the kzalloc). `viommu`: the kobj of the
 * vIOMMU it is allocated on (`mock_viommu_alloc_domain_nested()`), if any.
 * Events: `iommufd.mock_nested.allocated`.
 */
export function decideMockNestedAlloc(
  parent: number,
  kobj: number,
  data: UserData,
  ctx: DecideContext,
  viommu?: number,
): Decided | Errno {
  if (data.type !== IOMMU_HWPT_DATA_SELFTEST) return errno("EOPNOTSUPP", "not IOMMU_HWPT_DATA_SELFTEST");
  const cfg = copyUserData(iommuHwptSelftest, data);
  if (isErrno(cfg)) return cfg;
  const fail = ctx.step("selftest.nested_domain_alloc", "ENOMEM");
  if (fail) return fail;
  const on = viommu === undefined ? {} : { viommu };
  return [{ type: "iommufd.mock_nested.allocated", data: { kobj, parent, iotlb: cfg.iotlb, ...on } }];
}

/**
 * IOMMU_HWPT_INVALIDATE on mock nested domain `kobj`
 * (`mock_domain_cache_invalidate_user()`): `array.type` other than
 * IOMMU_HWPT_INVALIDATE_DATA_SELFTEST → EINVAL before any entry; then
 * entry by entry, `iommu_hwpt_invalidate_selftest` copied with
 * `iommu_copy_struct_from_user_array` rules (entry_len other than 8 →
 * EINVAL, unreadable → EFAULT), unknown flags →
 * EOPNOTSUPP, `iotlb_id` > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX (3) → EINVAL
 * (ignored with IOMMU_TEST_INVALIDATE_FLAG_ALL, which clears every entry).
 * Processing stops at the first error; `handled` counts the entries done.
 * Events: `iommufd.mock_nested.iotlb_cleared` with the ids cleared, if any.
 */
export function mockNestedInvalidate(kobj: number, array: UserDataArray): UserInvalidation {
  if (array.type !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST)
    return { events: [], handled: 0, error: errno("EINVAL", "not IOMMU_HWPT_INVALIDATE_DATA_SELFTEST") };
  const ids: number[] = [];
  const done = (handled: number, error?: Errno): UserInvalidation => ({
    events: ids.length === 0 ? [] : [{ type: "iommufd.mock_nested.iotlb_cleared", data: { kobj, ids } }],
    handled,
    ...(error === undefined ? {} : { error }),
  });
  for (let i = 0; i < array.entryNum; i++) {
    const entry = userArrayEntry(array, i, iommuHwptInvalidateSelftest);
    if (isErrno(entry)) return done(i, entry);
    const { flags, iotlb_id } = iommuHwptInvalidateSelftest.decode(
      kernelCopy(iommuHwptInvalidateSelftest, entry),
    );
    if (flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) return done(i, errno("EOPNOTSUPP", "unknown flags"));
    if (iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX)
      return done(i, errno("EINVAL", `iotlb_id ${iotlb_id} > ${MOCK_NESTED_DOMAIN_IOTLB_ID_MAX}`));
    if (flags & IOMMU_TEST_INVALIDATE_FLAG_ALL)
      for (let id = 0; id < MOCK_NESTED_DOMAIN_IOTLB_NUM; id++) ids.push(id);
    else ids.push(iotlb_id);
  }
  return done(array.entryNum);
}

/** The mock nested domain behind global id `kobj`, if it is one. */
export function mockNestedDomain(
  state: IommufdState,
  kobj: number | undefined,
): MockNestedDomain | undefined {
  return kobj === undefined ? undefined : state.mockNested?.[kobj];
}

/** Apply an `iommufd.mock_nested.*` event to the slice. */
export function evolveMockNested(state: IommufdState, e: MockNestedEvent): IommufdState {
  const all = state.mockNested ?? {};
  switch (e.type) {
    case "iommufd.mock_nested.allocated": {
      const iotlb = new Array<number>(MOCK_NESTED_DOMAIN_IOTLB_NUM).fill(e.data.iotlb);
      const viommu = e.data.viommu === undefined ? {} : { viommu: e.data.viommu };
      return { ...state, mockNested: { ...all, [e.data.kobj]: { parent: e.data.parent, iotlb, ...viommu } } };
    }
    case "iommufd.mock_nested.iotlb_cleared": {
      const d = all[e.data.kobj];
      if (d === undefined) return state;
      const iotlb = [...d.iotlb];
      for (const id of e.data.ids) iotlb[id] = 0;
      return { ...state, mockNested: { ...all, [e.data.kobj]: { ...d, iotlb } } };
    }
    case "iommufd.mock_nested.freed": {
      const { [e.data.kobj]: _gone, ...rest } = all;
      return { ...state, mockNested: rest };
    }
  }
}
