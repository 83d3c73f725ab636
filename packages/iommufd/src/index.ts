/** @packageDocumentation /dev/iommu: the object table, ioctl dispatch, devices, HW page tables, fault queues and Linux's selftest mock driver. */
export {};
