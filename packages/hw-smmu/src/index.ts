/** @packageDocumentation An ARM SMMUv3 hardware model: stream table, CD tables, VMSAv8-64 translation tables, caches, command, event and PRI queues. */
export {};
