/** @packageDocumentation `iommu-sim`: run, replay, rerun, inspect, serve and exec unmodified C programs against the model. */
export {};
