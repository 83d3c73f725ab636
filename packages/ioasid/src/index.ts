/** @packageDocumentation PASID allocation: the PASID space, per-process IOASID sets, quotas, /dev/ioasid, SVA binding and the system PASID. */
export {};
