/** @packageDocumentation An Intel VT-d (scalable mode) hardware model: root/context/PASID tables, first- and second-stage page tables, caches, queued invalidation, faults and page requests. */
export {};
