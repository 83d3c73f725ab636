/**
 * IOMMU_TEST_CMD (Linux drivers/iommu/iommufd/selftest.c iommufd_test()):
 * the selftest ops modelled so far — ADD_RESERVED, MOCK_DOMAIN,
 * MOCK_DOMAIN_FLAGS, MOCK_DOMAIN_REPLACE, MD_CHECK_MAP, MD_CHECK_REFS,
 * MD_CHECK_IOTLB, DEV_CHECK_CACHE (selftest/nested-checks.ts), TRIGGER_IOPF
 * (selftest/iopf.ts), TRIGGER_VEVENT (selftest/vevent.ts), the access ops CREATE_ACCESS, ACCESS_PAGES,
 * DESTROY_ACCESS_PAGES, ACCESS_RW, ACCESS_REPLACE_IOAS,
 * SET_TEMP_MEMORY_LIMIT (access-handlers.ts) and the mock-device PASID ops
 * PASID_ATTACH/REPLACE/DETACH/CHECK_HWPT (pasid-handlers.ts). Any other op answers
 * EOPNOTSUPP, as iommufd_test()'s default case does.
 */
import { type CheckRoot, mdCheckMap, mdCheckRefs } from "@iommu-sim/iopt";
import { IOMMU_TEST_OP, isErrno, MOCK_IO_PAGE_SIZE } from "@iommu-sim/uapi";
import { getObject } from "../objects";
import type { IommufdRoot } from "../root";
import { type TriggerIopf, triggerIopf } from "../selftest/iopf";
import { mockDomainIds } from "../selftest/mock-domain";
import { devCheckCache, mdCheckIotlb } from "../selftest/nested-checks";
import { replacedPtId } from "../selftest/replace";
import { triggerVevent } from "../selftest/vevent";
import {
  type AccessTestCmd,
  accessPages,
  accessReplaceIoas,
  accessRw,
  createAccess,
  destroyAccessPages,
  setTempMemoryLimit,
} from "./access-handlers";
import { callerPid, type IoctlCall, respondU32, ret } from "./call";
import { type PasidTestCmd, pasidAttach, pasidCheckHwpt, pasidDetach } from "./pasid-handlers";
import { kobjOf } from "./resolve";

type Call = IoctlCall<IommufdRoot>;
const UNION = 16; // offset of the union in struct iommu_test_cmd
const EINVAL = -22;
const EOPNOTSUPP = -95;

interface TestCmd {
  op: number;
  id: number;
  add_reserved: { start: bigint; length: bigint };
  mock_domain_flags: { dev_flags: number };
  mock_domain_replace: { pt_id: number };
  check_map: { iova: bigint; length: bigint; uptr: bigint };
  check_refs: { length: bigint; uptr: bigint; refs: number };
  check_iotlb: { id: number; iotlb: number };
  check_dev_cache: { id: number; cache: number };
}

function addReserved(call: Call, v: TestCmd): number {
  const ioas = kobjOf(call.env.peek(), call.ctx, v.id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  const { start, length } = v.add_reserved;
  const last = BigInt.asUintN(64, start + length - 1n);
  const r = call.env.dispatch({ type: "ioas.reserve", data: { ioas, start, last, owner: 0 } });
  return isErrno(r) ? r.ret : 0;
}

function mockDomain(call: Call, v: TestCmd, withFlags: boolean): number {
  const flags = withFlags ? v.mock_domain_flags.dev_flags : 0;
  const r = call.env.dispatch({
    type: "iommufd.selftest.mock_domain",
    data: { ctx: call.ctx, ptId: v.id, flags },
  });
  if (isErrno(r)) return r.ret;
  const ids = mockDomainIds(r);
  respondU32(call, UNION, ids.stdev);
  respondU32(call, UNION + 4, ids.hwpt);
  respondU32(call, UNION + 8, ids.idev);
  return 0;
}

function mockDomainReplace(call: Call, v: TestCmd): number {
  const r = call.env.dispatch({
    type: "iommufd.selftest.mock_domain_replace",
    data: { ctx: call.ctx, stdevId: v.id, ptId: v.mock_domain_replace.pt_id },
  });
  if (isErrno(r)) return r.ret;
  respondU32(call, UNION, replacedPtId(call.env.peek(), call.ctx, v.id));
  return 0;
}

function checkMap(call: Call, v: TestCmd): number {
  const root = call.env.peek();
  const c = root.iommufd.contexts[call.ctx]!;
  const hwpt = getObject(c, v.id, "hwpt_paging");
  if (isErrno(hwpt)) return hwpt.ret;
  const { iova, length, uptr } = v.check_map;
  const io = BigInt(MOCK_IO_PAGE_SIZE);
  if (iova % io !== 0n || length % io !== 0n || uptr % io !== 0n || uptr + length >= 1n << 64n) return EINVAL;
  // The selftest reads the caller's pages (current->mm), which a forked child's call makes its own.
  return ret(mdCheckMap(root as unknown as CheckRoot, hwpt.kobj!, iova, length, callerPid(call), uptr));
}

function checkRefs(call: Call, v: TestCmd): number {
  const root = call.env.peek();
  const { uptr, length, refs } = v.check_refs;
  return ret(mdCheckRefs(root as unknown as CheckRoot, callerPid(call), uptr, length, refs));
}

/** IOMMU_TEST_CMD: dispatch on `op`. */
export function testCmd(call: Call): number {
  const v = call.value as unknown as TestCmd;
  switch (v.op) {
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ADD_RESERVED:
      return addReserved(call, v);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN:
      return mockDomain(call, v, false);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
      return mockDomain(call, v, true);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
      return mockDomainReplace(call, v);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_MAP:
      return checkMap(call, v);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_REFS:
      return checkRefs(call, v);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_IOTLB:
      return ret(mdCheckIotlb(call.env.peek(), call.ctx, v.id, v.check_iotlb.id, v.check_iotlb.iotlb));
    case IOMMU_TEST_OP.IOMMU_TEST_OP_DEV_CHECK_CACHE:
      return ret(
        devCheckCache(call.env.peek(), call.ctx, v.id, v.check_dev_cache.id, v.check_dev_cache.cache),
      );
    case IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_IOPF:
      return triggerIopf(call, (call.value as unknown as { trigger_iopf: TriggerIopf }).trigger_iopf);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_VEVENT:
      return triggerVevent(
        call,
        (call.value as unknown as { trigger_vevent: { dev_id: number } }).trigger_vevent,
      );
    case IOMMU_TEST_OP.IOMMU_TEST_OP_CREATE_ACCESS:
      return createAccess(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_PAGES:
      return accessPages(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
      return destroyAccessPages(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_RW:
      return accessRw(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
      return accessReplaceIoas(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT:
      return setTempMemoryLimit(call, call.value as unknown as AccessTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_ATTACH:
      return pasidAttach(call, call.value as unknown as PasidTestCmd, false);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_REPLACE:
      return pasidAttach(call, call.value as unknown as PasidTestCmd, true);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_DETACH:
      return pasidDetach(call, call.value as unknown as PasidTestCmd);
    case IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_CHECK_HWPT:
      return pasidCheckHwpt(call, call.value as unknown as PasidTestCmd);
    default:
      return EOPNOTSUPP;
  }
}
