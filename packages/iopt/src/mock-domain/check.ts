/**
 * The selftest's checks of what reached a mock domain and of pin counts:
 * IOMMU_TEST_OP_MD_CHECK_MAP and IOMMU_TEST_OP_MD_CHECK_REFS (Linux
 * drivers/iommu/iommufd/selftest.c iommufd_test_md_check_pa(),
 * iommufd_test_md_check_refs()).
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { IoptState } from "../iopt/state";
import { lookupPage } from "../mm/fault";
import { type MmState, PAGE_SIZE } from "../mm/state";
import { userVaToPa } from "../mm/user-copy";
import { pinCount } from "../pin-counts";
import { MOCK_IO_PAGE, readMockPte } from "./page-table";
import type { MockDomainState } from "./subsystem";

/** The root slices the checks read. */
export interface CheckRoot {
  readonly mm: MmState;
  readonly iopt: IoptState;
  readonly mockDomain: MockDomainState;
}

/**
 * MD_CHECK_MAP: every 2 KiB IO page of [iova, iova + length) in mock domain
 * `domain` maps the physical address behind the same offset of user VA
 * `uptr` in process `pid`.
 * @returns undefined when it holds; ENOENT unknown domain; EINVAL a length
 *   or uptr not a multiple of 2 KiB, an unmapped IO page, or a mismatch
 *   (Linux's answers).
 */
export function mdCheckMap(
  root: CheckRoot,
  domain: number,
  iova: bigint,
  length: bigint,
  pid: number,
  uptr: bigint,
): Errno | undefined {
  const d = root.mockDomain.domains.get(domain);
  if (d === undefined) return errno("ENOENT", `no mock domain ${domain}`);
  const io = BigInt(MOCK_IO_PAGE);
  if (length % io !== 0n || uptr % io !== 0n)
    return errno("EINVAL", "length/uptr not MOCK_IO_PAGE_SIZE aligned");
  for (let off = 0n; off < length; off += io) {
    const pte = readMockPte(d.table, Number((iova + off) / io));
    if (pte === undefined) return errno("EINVAL", `IOVA 0x${(iova + off).toString(16)} not mapped`);
    const pa = userVaToPa(root.mm, pid, uptr + off);
    if (isErrno(pa)) return pa;
    if (pte.pa !== pa)
      return errno(
        "EINVAL",
        `IOVA 0x${(iova + off).toString(16)} maps PA 0x${pte.pa.toString(16)}, user page is at 0x${pa.toString(16)}`,
      );
  }
  return undefined;
}

/**
 * MD_CHECK_REFS: every 4 KiB page of [uptr, uptr + length) in process
 * `pid` has exactly `refs` long-term pins (a page never faulted in has 0).
 * @returns undefined when it holds; EINVAL for an unaligned range; EFAULT
 *   for an unmapped address; EIO on a count mismatch (Linux's answers).
 */
export function mdCheckRefs(
  root: CheckRoot,
  pid: number,
  uptr: bigint,
  length: bigint,
  refs: number,
): Errno | undefined {
  const page = BigInt(PAGE_SIZE);
  if (length % page !== 0n || uptr % page !== 0n) return errno("EINVAL", "length/uptr not PAGE_SIZE aligned");
  for (let off = 0n; off < length; off += page) {
    const pfn = lookupPage(root.mm, pid, Number((uptr + off) / page));
    if (isErrno(pfn)) return pfn;
    const n = pfn < 0 ? 0 : pinCount(root.iopt.pinCounts, pfn);
    if (n !== refs)
      return errno("EIO", `page at 0x${(uptr + off).toString(16)} has ${n} pins, expected ${refs}`);
  }
  return undefined;
}
