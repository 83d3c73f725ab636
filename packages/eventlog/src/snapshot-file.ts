/**
 * Snapshots as bytes: the canonical encoding of `{seq, state}` (see
 * canonical/encode.ts); bulk tables cost about what hardware pays for them.
 */
import { decodeCanonical, encodeCanonical } from "./canonical/encode";
import type { Snapshot } from "./log";

/** Serialize a snapshot. @throws TypeError if the state holds an unencodable value. */
export function serializeSnapshot<S>(snapshot: Snapshot<S>): Uint8Array {
  return encodeCanonical({ seq: snapshot.seq, state: snapshot.state }).slice();
}

/**
 * Restore a snapshot from `serializeSnapshot` bytes. Bulk tables must have
 * their decoders registered (importing their package does it).
 * @throws RangeError on malformed bytes.
 */
export function deserializeSnapshot<S>(bytes: Uint8Array): Snapshot<S> {
  const v = decodeCanonical(bytes) as { seq?: unknown; state?: unknown };
  if (typeof v !== "object" || v === null || typeof v.seq !== "number")
    throw new RangeError("not a snapshot");
  return Object.freeze({ seq: v.seq, state: v.state as S });
}
