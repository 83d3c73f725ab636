/**
 * The page-table panel of the selftest mock domains (domains.ts); the
 * VT-d and SMMUv3 tables have panels of their own (VtdPanel, SmmuPanel).
 */
import { mockDomainMaps } from "../domains";
import type { ViewerRoot } from "../system";
import { DomainView } from "./DomainView";

/** Props of `PageTables`. */
export interface PageTablesProps {
  readonly root: ViewerRoot;
}

/** The mock domains' translations, or a note when the system has no mock-domain slice. */
export function PageTables({ root }: PageTablesProps) {
  const mock = mockDomainMaps(root);
  return mock === undefined ? (
    <p class="empty">no mockDomain slice in this system</p>
  ) : (
    <DomainView domains={mock} />
  );
}
