/**
 * The IOVA map of each IO address space in the `iopt` slice: its areas
 * (Linux struct iopt_area: [iova, last] → bytes of an iopt_pages), reserved
 * ranges (struct iopt_reserved), the IOMMU_IOAS_ALLOW_IOVAS ranges and the
 * domains attached to it (drivers/iommu/iommufd/io_pagetable.c). IOVAs and
 * lengths are bigint bytes, `last` inclusive, as in iopt.
 */
import { big, isRecord, list, num, tableValues } from "./slices";

/** An area: IOVA [iova, last] maps the bytes of iopt_pages `pages` from `startByte`. */
export interface IovaArea {
  readonly iova: bigint;
  readonly last: bigint;
  /** IOMMU_READ = 1 | IOMMU_WRITE = 2. */
  readonly prot: number;
  readonly pages: number;
  readonly startByte: bigint;
}

/** An inclusive IOVA range with its owner (0: IOMMU_TEST_OP_ADD_RESERVED; else a device or domain id). */
export interface IovaReserved {
  readonly start: bigint;
  readonly last: bigint;
  readonly owner: number;
}

/** An attached domain as iopt knows it. */
export interface IovaDomain {
  readonly id: number;
  /** Smallest IO page size in bytes (the mock domain: 2 KiB). */
  readonly ioPageSize: number;
  readonly apertureStart: bigint;
  readonly apertureLast: bigint;
}

/** One IOAS. */
export interface IovaMap {
  /** The iopt IOAS id (iommufd's objects point at it as `kobj`). */
  readonly id: number;
  /** Sorted by IOVA. */
  readonly areas: readonly IovaArea[];
  readonly reserved: readonly IovaReserved[];
  /** IOMMU_IOAS_ALLOW_IOVAS ranges; empty = every IOVA allowed. */
  readonly allowed: readonly { readonly start: bigint; readonly last: bigint }[];
  readonly domains: readonly IovaDomain[];
  readonly accesses: readonly number[];
  /** Bytes mapped by all areas. */
  readonly mappedBytes: bigint;
}

function area(v: unknown): IovaArea | undefined {
  if (!isRecord(v) || typeof v.iova !== "bigint" || typeof v.last !== "bigint") return undefined;
  return { iova: v.iova, last: v.last, prot: num(v.prot), pages: num(v.pages), startByte: big(v.startByte) };
}

function range(v: unknown): IovaReserved | undefined {
  if (!isRecord(v) || typeof v.start !== "bigint" || typeof v.last !== "bigint") return undefined;
  return { start: v.start, last: v.last, owner: num(v.owner) };
}

function domain(v: unknown): IovaDomain | undefined {
  if (!isRecord(v) || typeof v.id !== "number") return undefined;
  return {
    id: v.id,
    ioPageSize: num(v.ioPageSize),
    apertureStart: big(v.apertureStart),
    apertureLast: big(v.apertureLast),
  };
}

const defined = <T>(x: T | undefined): x is T => x !== undefined;

function ioas(v: unknown): IovaMap | undefined {
  if (!isRecord(v) || typeof v.id !== "number") return undefined;
  const areas = list(v.areas)
    .map(area)
    .filter(defined)
    .sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  return {
    id: v.id,
    areas,
    reserved: list(v.reserved).map(range).filter(defined),
    allowed: list(v.allowed)
      .map(range)
      .filter(defined)
      .map(({ start, last }) => ({ start, last })),
    domains: list(v.domains).map(domain).filter(defined),
    accesses: list(v.accesses).filter((x): x is number => typeof x === "number"),
    mappedBytes: areas.reduce((n, a) => n + (a.last - a.iova + 1n), 0n),
  };
}

/**
 * Every IOAS of `root.iopt.ioas` in id order; undefined when the root has
 * no iopt slice with an `ioas` table.
 */
export function iovaMaps(root: Readonly<Record<string, unknown>>): readonly IovaMap[] | undefined {
  const s = root.iopt;
  if (!isRecord(s) || !isRecord(s.ioas)) return undefined;
  return tableValues(s.ioas)
    .map(ioas)
    .filter(defined)
    .sort((a, b) => a.id - b.id);
}

/** "RW", "R-", "-W" or "--" for IOMMU_READ | IOMMU_WRITE. */
export function protText(prot: number): string {
  return `${prot & 1 ? "R" : "-"}${prot & 2 ? "W" : "-"}`;
}
