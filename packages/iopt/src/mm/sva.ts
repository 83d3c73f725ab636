/**
 * What the SVA path needs of `mm` (re-exported from the package root): the
 * CPU page table (cpu-pgtable.ts, pgd.ts) and device fault handling
 * (iommu-fault.ts).
 */
export {
  leafFlags,
  ptFramesNeeded,
  readLeaf,
  X86_PTE,
  X86_PTE_XD_HI,
  X86_TABLE_FLAGS,
  x86Pte,
  x86TableEntry,
} from "./cpu-pgtable";
export {
  handleIommuFault,
  IOMMU_PAGE_RESP,
  type IommuFaultOutcome,
  type IommuFaultPage,
} from "./iommu-fault";
export {
  decidePgdAlloc,
  type PgdAllocated,
  type Populated,
  type PresentPage,
  pageWritable,
  presentPages,
} from "./pgd";
