/**
 * HW queue objects (Linux drivers/iommu/iommufd/viommu.c
 * `iommufd_hw_queue_alloc_ioctl()`, `iommufd_hw_queue_alloc_phys()`,
 * `iommufd_hw_queue_destroy()`): a queue in guest memory that the IOMMU
 * reads by physical address (a Tegra241 vCMDQ; the selftest mock's
 * IOMMU_HW_QUEUE_TYPE_SELFTEST). Its memory, `length` bytes at IOVA
 * `iova` of the vIOMMU's nesting parent IOAS, is pinned by an internal
 * access for as long as the queue lives — the pages must be physically
 * contiguous, and IOMMU_IOAS_UNMAP of them fails EBUSY meanwhile (the
 * access is created `internal`: it gets no unmap callback, so iopt's unmap
 * refuses the area it pins, as `iopt_unmap_iova_range()` does).
 *
 * The object: type `hw_queue`, `kobj` = iopt's id of that access, `refs` =
 * [vIOMMU] plus the queue it depends on when the driver made it depend on
 * another (`iommufd_hw_queue_depend()`: the mock's queue i on queue i − 1,
 * which therefore cannot be destroyed first, EBUSY).
 */
import { type SubsystemDecideContext, sealEpoch } from "@iommu-sim/eventlog";
import {
  accessPinFrames,
  decideAccessCreate as ioptAccessCreate,
  decideAccessDestroy as ioptAccessDestroy,
  decideAccessPin as ioptAccessPin,
  PAGE_SIZE,
} from "@iommu-sim/iopt";
import { type Errno, errno, IOMMU_HW_QUEUE_TYPE_DEFAULT, isErrno } from "@iommu-sim/uapi";
import type { Decided, HwRoot } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { allocObjectId, getContext, getObject } from "./objects";
import type { IommufdRoot, RootEvolve } from "./root";
import type { IommufdObject } from "./state";
import { viommuRef } from "./viommu";

const PAGE = BigInt(PAGE_SIZE);
const U64_MAX = (1n << 64n) - 1n;
const NO_FAULTS = { step: () => undefined };
/** The pin id of a HW queue's internal access: it holds one pin, the whole queue. */
const QUEUE_PIN = 0;

/** `iommufd.hw_queue.alloc`'s data (see the vocabulary). */
export interface HwQueueAllocRequest {
  readonly ctx: number;
  readonly flags: number;
  readonly viommuId: number;
  readonly type: number;
  readonly index: number;
  /** nesting_parent_iova, bytes. */
  readonly iova: bigint;
  /** Bytes. */
  readonly length: bigint;
}

/**
 * The page-aligned range `iommufd_hw_queue_alloc_phys()` pins: from the
 * 4 KiB page holding `iova` over `offset + length` rounded up to pages;
 * ERANGE when that sum overflows 64 bits (its check_add_overflow()s).
 */
function pinRange(iova: bigint, length: bigint): { start: bigint; length: bigint } | Errno {
  const start = iova - (iova % PAGE);
  const span = iova - start + length + PAGE - 1n;
  if (span > U64_MAX) return errno("ERANGE", "offset + length overflows");
  return { start, length: span - (span % PAGE) };
}

/** The queue's 4 KiB frames must follow each other (the HW reads them by PA): else EFAULT. */
function checkContiguous(frames: readonly number[]): Errno | undefined {
  for (let i = 1; i < frames.length; i++)
    if (frames[i] !== frames[i - 1]! + 1)
      return errno("EFAULT", `the queue's pages are not physically contiguous (page ${i})`);
  return undefined;
}

/**
 * The internal access and its pin (`iommufd_hw_queue_alloc_phys()`):
 * ERANGE; ENOMEM at `iommufd.hw_queue_pages` (the page array) and iopt's
 * `iopt.access_alloc`; iopt's pin errors (ENOENT a hole in the IOAS,
 * EPERM an area without read, …); EFAULT pages not contiguous.
 */
function pinQueue(
  root: IommufdRoot,
  req: HwQueueAllocRequest,
  ioas: number,
  access: number,
  ctx: SubsystemDecideContext<IommufdRoot>,
  evolve: RootEvolve,
): Decided | Errno {
  const range = pinRange(req.iova, req.length);
  if (isErrno(range)) return range;
  const fail = ctx.step("iommufd.hw_queue_pages", "ENOMEM");
  if (fail) return fail;
  const created = ioptAccessCreate(root, { access, ioas, iovaAlignment: 1n, internal: true }, ctx);
  if (isErrno(created)) return created;
  sealEpoch(); // the scratch evolution below must not write the live state's bulk tables
  let after = root;
  for (const e of created) after = evolve(after, e);
  const pin = { access, pin: QUEUE_PIN, iova: range.start, length: range.length, write: false };
  const pinned = ioptAccessPin(after, pin, { ...ctx, root: after });
  if (isErrno(pinned)) return pinned;
  for (const e of pinned) after = evolve(after, e);
  const frames = accessPinFrames(after, access, QUEUE_PIN);
  if (isErrno(frames)) return frames;
  const gap = checkContiguous(frames);
  if (gap) return gap;
  return [...created, ...pinned];
}

/**
 * IOMMU_HW_QUEUE_ALLOC. Errors, in Linux's order: EBADF context;
 * EOPNOTSUPP `flags` ≠ 0 or type IOMMU_HW_QUEUE_TYPE_DEFAULT (0); EINVAL
 * length 0; EOVERFLOW iova + length − 1 wraps 2^64; ENOENT `viommuId` is
 * not a vIOMMU; EOPNOTSUPP its driver has no HW queue of this type
 * (`get_hw_queue_size()` = 0); ENOSPC no object id; ENOMEM at
 * `iommufd.hw_queue_alloc` (the object); then `pinQueue`'s; then the
 * driver's `hw_queue_init_phys` (the mock: EINVAL index ≥ 2, EEXIST index
 * taken, EIO index − 1 missing).
 * Events: iopt's `iopt.access_created`, `iopt.access_pinned` (and page
 * faults), then `iommufd.object.created` (type `hw_queue`).
 */
export function decideHwQueueAlloc(
  root: IommufdRoot,
  req: HwQueueAllocRequest,
  ctx: SubsystemDecideContext<IommufdRoot>,
  evolve: RootEvolve,
): Decided | Errno {
  const c = getContext(root.iommufd, req.ctx);
  if (isErrno(c)) return c;
  if (req.flags !== 0 || req.type === IOMMU_HW_QUEUE_TYPE_DEFAULT)
    return errno("EOPNOTSUPP", "flags must be 0 and the type not IOMMU_HW_QUEUE_TYPE_DEFAULT");
  if (req.length === 0n) return errno("EINVAL", "length 0");
  if (req.iova + req.length - 1n > U64_MAX) return errno("EOVERFLOW", "iova + length − 1 wraps");
  const viommu = getObject(c, req.viommuId, "viommu");
  if (isErrno(viommu)) return viommu;
  const ref = viommuRef(root, req.ctx, viommu);
  const driver = driverOf(ref.parent.driver);
  if (driver.hwQueueInit === undefined || driver.hwQueueTypeSupported?.(ref, req.type) !== true)
    return errno(
      "EOPNOTSUPP",
      `the ${ref.parent.driver} vIOMMU has no HW queue of type 0x${req.type.toString(16)}`,
    );
  const id = allocObjectId(c);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.hw_queue_alloc", "ENOMEM");
  if (fail) return fail;
  const parent = c.objects[viommu.refs[0]!]!;
  const ioas = c.objects[parent.refs[0]!]!;
  const kobj = root.iommufd.nextKobj;
  const pinned = pinQueue(root, req, ioas.kobj!, kobj, ctx, evolve);
  if (isErrno(pinned)) return pinned;
  const init = driver.hwQueueInit(root as HwRoot, ref, req.index);
  if (isErrno(init)) return init;
  const refs = init.dependsOn === undefined ? [viommu.id] : [viommu.id, init.dependsOn];
  return [
    ...pinned,
    {
      type: "iommufd.object.created",
      data: {
        ctx: req.ctx,
        id,
        type: "hw_queue",
        kobj,
        refs,
        queueType: req.type,
        queueIndex: req.index,
        iova: req.iova,
        length: req.length,
      },
    },
  ];
}

/**
 * Destroying HW queue `obj` (`iommufd_hw_queue_destroy()`): the driver
 * forgets it, its internal access unpins the queue memory and goes.
 * Cannot fail.
 */
export function hwQueueDestroyEffects(root: IommufdRoot, obj: IommufdObject): Decided | Errno {
  const r = ioptAccessDestroy(root, { access: obj.kobj! }, { ...NO_FAULTS, root });
  return isErrno(r) ? r : [...r];
}
