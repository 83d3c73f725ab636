/**
 * iopt's object tables (IOASes, iopt_pages, mock domains) are eventlog's
 * `EpochMap` (unbounded): updated in place within an epoch, copied once
 * when sealed, encoded by ascending key. Re-exported here for the users of
 * `@iommu-sim/iopt` that imported it from this package.
 */
export { EpochMap } from "@iommu-sim/eventlog";
