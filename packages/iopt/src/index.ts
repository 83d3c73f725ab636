/** @packageDocumentation IO address spaces: user memory, physical memory, areas, pages, pinning, accesses and IOVA allocation (Linux io_pagetable.c, pages.c). */
export {};
