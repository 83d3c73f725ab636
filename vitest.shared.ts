/**
 * Shared vitest settings: workspace packages resolve to their TypeScript
 * sources, so tests never need a build first.
 */
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const packages = ["uapi", "eventlog", "ioasid", "iopt", "iommufd", "hw-vtd", "hw-smmu", "vfio-compat", "cli"];

/** `@iommu-sim/<dir>` → `<root>/packages/<dir>/src/index.ts`. */
export const workspaceAlias: Record<string, string> = Object.fromEntries(
  packages.map((p) => [`@iommu-sim/${p}`, `${root}packages/${p}/src/index.ts`]),
);
