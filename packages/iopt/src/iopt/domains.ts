/**
 * Attaching and detaching iommu_domains (paging HWPTs) to an IOAS. iopt
 * records a descriptor and emits what the domain must map; the domain's
 * own subsystem (mock-domain/, hw-vtd, hw-smmu) writes its page table.
 * Linux io_pagetable.c iopt_table_add_domain(), iopt_fill_domain(),
 * iopt_table_remove_domain(), iopt_unfill_domain().
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { PAGE_SIZE } from "../mm/state";
import { checkAreasAligned, computeAlignment, isPowerOfTwo } from "./alignment";
import { intersects } from "./iova";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { areaIndexRange, type DomainDescriptor, type Ioas, U64_MAX } from "./state";
import { type IoptCtx, PinTxn } from "./txn";

/** The IOAS a domain is attached to, if any. */
export function domainOwner(root: IoptRoot, domain: number): Ioas | undefined {
  for (const ioas of root.iopt.ioas.values()) if (ioas.domains.some((d) => d.id === domain)) return ioas;
  return undefined;
}

function accessAlignments(root: IoptRoot, ioas: Ioas): number[] {
  return ioas.accesses.map((a) => root.iopt.accesses.get(a)!.iovaAlignment);
}

/** The ranges outside a domain's aperture, reserved on its behalf. */
function apertureHoles(d: DomainDescriptor): { start: bigint; last: bigint }[] {
  const out: { start: bigint; last: bigint }[] = [];
  if (d.apertureStart !== 0n) out.push({ start: 0n, last: d.apertureStart - 1n });
  if (d.apertureLast !== U64_MAX) out.push({ start: d.apertureLast + 1n, last: U64_MAX });
  return out;
}

/**
 * iopt_table_add_domain(): attach `domain` to `ioas`. The IOAS alignment
 * grows to the domain's IO page size; the IOVA outside its aperture becomes
 * reserved (owner = domain id); the first domain pins every area's pages;
 * `ioas.domain_attached` lists every area with its frames (`fill`).
 * Errors: ENOENT no IOAS; EEXIST domain already attached (here or to
 * another IOAS); EINVAL an IO page size that is not a power of two or is
 * larger than PAGE_SIZE; EADDRINUSE an area misaligned to the new
 * alignment, or an area/allowed range outside the aperture; EFAULT/ENOMEM
 * pinning (e.g. the mapping process is gone — selftest fork_gone).
 */
export function decideAttachDomain(
  root: IoptRoot,
  c: DataOf<"ioas.attach_domain">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const d = c.domain;
  if (domainOwner(root, d.id) !== undefined) return errno("EEXIST", `domain ${d.id} is already attached`);
  if (!isPowerOfTwo(d.ioPageSize) || d.apertureStart > d.apertureLast)
    return errno("EINVAL", "bad domain geometry");
  const align = Math.max(d.ioPageSize, ioas.iovaAlignment);
  if (align > PAGE_SIZE) return errno("EINVAL", "IO page size larger than PAGE_SIZE");
  if (align !== ioas.iovaAlignment) {
    const e = checkAreasAligned(ioas, align);
    if (e) return e;
  }
  const txn = new PinTxn(root, ctx);
  for (const hole of apertureHoles(d)) {
    const used =
      ioas.areas.some((a) => intersects({ start: a.iova, last: a.last }, hole.start, hole.last)) ||
      ioas.allowed.some((a) => intersects(a, hole.start, hole.last));
    if (used) return errno("EADDRINUSE", "an area or allowed range lies outside the domain aperture");
    const e = ctx.step("iopt.reserve_iova");
    if (e) return e;
    txn.emit({
      type: "ioas.reserved",
      data: { ioas: ioas.id, start: hole.start, last: hole.last, owner: d.id },
    });
  }
  const e = ctx.step("iopt.domains_xa_reserve");
  if (e) return e;
  if (ioas.domains.length === 0) {
    txn.setDomained(ioas.id, true);
    const r = txn.reconcile();
    if (r) return r;
  }
  const fill = [];
  for (const a of ioas.areas) {
    const s = ctx.step("iopt.area_fill_domain");
    if (s) return s;
    const { index, count } = areaIndexRange(a);
    fill.push({
      iova: a.iova,
      length: a.last - a.iova + 1n,
      pfnRuns: txn.frames(a.pages, index, count)!,
      offset: Number(a.startByte % BigInt(PAGE_SIZE)),
      prot: a.prot,
    });
  }
  const iovaAlignment = computeAlignment(
    ioas.disableLargePages,
    [...ioas.domains, d],
    accessAlignments(root, ioas),
  );
  txn.emit({
    type: "ioas.domain_attached",
    data: { ioas: ioas.id, domain: d, iovaAlignment: BigInt(iovaAlignment), fill },
  });
  return txn.finish();
}

/**
 * iopt_table_remove_domain(): the domain unmaps everything and is detached;
 * its reserved ranges go; the last domain's departure unpins every page not
 * held by an access. Cannot fail in Linux; here ENOENT for an unknown IOAS
 * or a domain not attached to it.
 */
export function decideDetachDomain(
  root: IoptRoot,
  c: DataOf<"ioas.detach_domain">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (!ioas.domains.some((d) => d.id === c.domain)) return errno("ENOENT", `domain ${c.domain} not attached`);
  const txn = new PinTxn(root, ctx);
  const rest = ioas.domains.filter((d) => d.id !== c.domain);
  const iovaAlignment = computeAlignment(ioas.disableLargePages, rest, accessAlignments(root, ioas));
  txn.emit({
    type: "ioas.domain_detached",
    data: { ioas: ioas.id, domain: c.domain, iovaAlignment: BigInt(iovaAlignment) },
  });
  if (ioas.reserved.some((r) => r.owner === c.domain))
    txn.emit({ type: "ioas.unreserved", data: { ioas: ioas.id, owner: c.domain } });
  if (rest.length === 0) {
    txn.setDomained(ioas.id, false);
    const r = txn.reconcile();
    if (r) return r;
  }
  return txn.finish();
}
