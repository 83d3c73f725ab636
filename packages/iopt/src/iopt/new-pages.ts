/**
 * Mapping a fresh iopt_pages: what IOMMU_IOAS_MAP and IOMMU_IOAS_MAP_FILE
 * share once they have the user VA or file range. Linux
 * drivers/iommu/iommufd/io_pagetable.c iopt_map_common() (with
 * iopt_map_pages(), iopt_alloc_area_pages(), iopt_fill_domains_pages()),
 * pages.c iopt_alloc_pages().
 *
 * Why not the general PinTxn: the pages are new, so the one area is their
 * only holder — the pinned set is the area's page range when the IOAS has
 * a domain and nothing otherwise, and the only charge is that range. The
 * whole command is then one `ioas.mapped` event carrying the new pages
 * (`created`) and their frames (`pfnRuns`), decided without interval
 * arithmetic or per-command maps: the 4 KiB map of a VMM's hot path.
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { faultEvents, hasFaults, newFaultPlan, type PfnRun } from "../mm/fault";
import { PAGE_SIZE, type Process } from "../mm/state";
import { allocIova } from "./iova";
import { checkIova } from "./map";
import type { IoptDecided, IoptRoot } from "./messages";
import { ACCOUNT_MM, ACCOUNT_NONE, ACCOUNT_USER, type Ioas } from "./state";
import { type IoptCtx, overMemlock, pinFrames } from "./txn";
import { bigCount, isAligned, toNumber } from "./u64";

const PAGE = BigInt(PAGE_SIZE);

/** The `created` member of `ioas.mapped`: the new iopt_pages. */
type CreatedPages = NonNullable<Extract<IoptDecided, { type: "ioas.mapped" }>["data"]["created"]>;

/** ictx->account_mode as commands carry it (IOMMU_OPTION_RLIMIT_MODE 0 = "user", 1 = "mm"). */
export type ContextAccountMode = "user" | "mm";

/**
 * The accounting of a new iopt_pages (pages.c iopt_alloc_pages() and
 * io_pagetable.c iopt_map_common()): ACCOUNT_NONE when the process has
 * CAP_IPC_LOCK; else the calling context's mode when the command names one
 * (a /dev/vfio/vfio context charges the mm), else iopt's global mode
 * (`iopt.set_rlimit_mode`, for iopt used without iommufd).
 */
export function accountModeFor(root: IoptRoot, proc: Process, mode: ContextAccountMode | undefined): number {
  if (proc.capIpcLock) return ACCOUNT_NONE;
  if (mode === undefined) return root.iopt.accountMode;
  return mode === "mm" ? ACCOUNT_MM : ACCOUNT_USER;
}

/** Where the new pages come from and how they are accounted. */
export interface NewPagesSource {
  /** The process whose memory (or whose open file) is mapped; charged for the pins. */
  readonly proc: Process;
  /** Page-aligned user VA (or file offset) of page index 0. */
  readonly uptr: bigint;
  /** Byte offset of the first mapped byte within page 0 (< 4096). */
  readonly startByte: bigint;
  /** The file object for MAP_FILE; absent for user memory. */
  readonly file?: number;
  /** IOMMU_IOAS_MAP_WRITEABLE: pin for writing. */
  readonly writable: boolean;
  /** ACCOUNT_NONE / _USER / _MM (see `accountModeFor`). */
  readonly accountMode: number;
}

/**
 * Map `length` bytes of a new iopt_pages at `fixedIova` (or an allocated
 * IOVA near `hint`, the user VA or file offset guiding alignment) with
 * IOMMU_READ/WRITE `prot`. Fallible steps in Linux's order:
 * `iopt.alloc_pages`, `iopt.area_alloc`, then with a domain `iopt.pin_pages`.
 * Errors: EINVAL length misaligned to the IOAS alignment; ENOSPC/EINVAL/
 * EOVERFLOW from IOVA allocation; EINVAL/EOVERFLOW/EEXIST for a fixed IOVA
 * (`checkIova`); EFAULT/EBADF pinning; ENOMEM over RLIMIT_MEMLOCK or injected.
 * @returns the page faults (`mm.faulted`) then one `ioas.mapped` with `created`.
 */
export function mapNewPages(
  root: IoptRoot,
  ctx: IoptCtx,
  ioas: Ioas,
  src: NewPagesSource,
  length: bigint,
  fixedIova: bigint | undefined,
  prot: number,
  hint: bigint,
): IoptDecided[] | Errno {
  let e = ctx.step("iopt.alloc_pages");
  if (e) return e;
  e = ctx.step("iopt.area_alloc");
  if (e) return e;
  const align = ioas.iovaAlignment;
  if (length === 0n || (align !== 1 && !isAligned(length, align)))
    return errno("EINVAL", "length misaligned to the IOAS alignment");
  let iova: bigint;
  if (fixedIova === undefined) {
    const r = allocIova(ioas, hint, length);
    if ("error" in r) return errno(r.error, "no IOVA hole fits");
    iova = r.iova;
  } else {
    const c = checkIova(ioas, fixedIova, length);
    if (c) return c;
    iova = fixedIova;
  }
  if (align !== 1 && !isAligned(src.startByte, align))
    return errno("EINVAL", "page offset misaligned to the IOAS alignment");
  // Pages spanned: exact in a number below 2^53 bytes, else (a huge map that cannot pin anyway) in bigint.
  const end = toNumber(src.startByte) + toNumber(length);
  const npages = Number.isSafeInteger(end + PAGE_SIZE)
    ? Math.ceil(end / PAGE_SIZE)
    : Number((src.startByte + length + PAGE - 1n) / PAGE);
  const pid = src.proc.pid;
  const { uptr, writable, accountMode, file } = src;
  // Two literals rather than a spread: `file` must be absent, not undefined, for user memory.
  const created =
    file === undefined
      ? { pid, uptr, npages: bigCount(npages), writable, accountMode }
      : { pid, uptr, file, npages: bigCount(npages), writable, accountMode };
  const pages = root.iopt.nextPages;
  if (ioas.domains.length === 0)
    return [mapped(ioas.id, iova, length, pages, src.startByte, prot, [], created)];
  e = ctx.step("iopt.pin_pages");
  if (e) return e;
  const plan = newFaultPlan(root.mm);
  const runs = pinFrames(root, created, 0, npages, plan);
  if (isErrno(runs)) return runs;
  if (accountMode !== ACCOUNT_NONE) {
    const accountId = accountMode === ACCOUNT_MM ? pid : src.proc.uid;
    const lockLimit = Number(src.proc.memlockLimit / PAGE);
    const over = overMemlock(root, accountMode, accountId, lockLimit, npages);
    if (over) return over;
  }
  const m = mapped(ioas.id, iova, length, pages, src.startByte, prot, runs, created);
  return !hasFaults(plan) ? [m] : [...faultEvents(plan), m];
}

/** The `ioas.mapped` event of new pages `pages` (`created`) at `iova`, backed by `pfnRuns` (none without a domain). */
function mapped(
  ioas: number,
  iova: bigint,
  length: bigint,
  pages: number,
  startByte: bigint,
  prot: number,
  pfnRuns: PfnRun[],
  created: CreatedPages,
): IoptDecided {
  return {
    type: "ioas.mapped",
    data: { ioas, iova, length, pages, startByte, prot, pfnRuns, offset: toNumber(startByte), created },
  };
}
