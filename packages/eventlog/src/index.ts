/**
 * @packageDocumentation
 * The event-sourcing runtime of iommu-sim: deciders and their combination,
 * the append-only log with RxJS streams, O(1) snapshots, replay and
 * `stateAt`, fail-nth fault injection, state hashes, bulk copy-on-write
 * tables, and the JSON Lines log codec.
 */

export { EpochMap } from "./bulk/epoch-map";
export { FRAME_SHIFT, FRAME_SIZE, FrameStore } from "./bulk/frame-store";
export { ByteReader, ByteWriter } from "./canonical/bytes";
export {
  BULK_TAG,
  type Bulk,
  decodeCanonical,
  decodeValue,
  encodeCanonical,
  encodeValue,
  registerBulk,
} from "./canonical/encode";
export { combine, type RootCommand, type RootEvent, type RootState } from "./combine";
export type { DecideContext, Decider, Subsystem, SubsystemDecideContext } from "./decider";
export { currentEpoch, sealEpoch } from "./epoch";
export { NO_FAULTS, StepCounter } from "./fault";
export { stateHash } from "./hash";
export {
  type ByteSource,
  encodeHeader,
  encodeLog,
  encodeRecord,
  LOG_KIND,
  LOG_VERSION,
  LogFormatError,
  type LogHeader,
  type OpenedLog,
  type ReadLogOptions,
  readLog,
  textSource,
} from "./jsonl";
export { type Commit, createLog, EventLog, type LogOptions, type Snapshot, type StepReport } from "./log";
export { mapDelete, mapSet } from "./maps";
export type { LogRecord, Message, Metadata, RecordKind } from "./message";
export { deserializeSnapshot, serializeSnapshot } from "./snapshot-file";
export { canonicalEqual, type Given, type Outcome, type SweepReport, specify, sweepFailNth } from "./spec";
export { bytesToBase64, type ValidationIssue, Vocabulary } from "./vocabulary";
