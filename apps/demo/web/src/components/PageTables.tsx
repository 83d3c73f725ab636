/**
 * The page-table panel: the selftest mock domains' translations when the
 * system has them, and the VT-d / SMMUv3 slices (trees until their
 * page-table views land).
 */
import { mockDomainMaps } from "../domains";
import type { ViewerRoot } from "../system";
import { DomainView } from "./DomainView";
import { SliceView } from "./SliceView";

/** Props of `PageTables`. */
export interface PageTablesProps {
  readonly root: ViewerRoot;
}

/** Mock domains, then the hardware slices. */
export function PageTables({ root }: PageTablesProps) {
  const mock = mockDomainMaps(root);
  return (
    <div>
      {mock === undefined ? null : <DomainView domains={mock} />}
      <SliceView
        root={root}
        slices={["vtd", "smmu"]}
        what="VT-d / SMMUv3 page-table trees and PASID, context and stream tables"
      />
    </div>
  );
}
