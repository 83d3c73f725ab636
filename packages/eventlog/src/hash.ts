/**
 * State hashes: SHA-256 over the canonical encoding, as lowercase hex.
 * Equal states hash equal across runs and machines (key order, Map insertion
 * order and typed-array views do not matter; see canonical/encode.ts).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { encodeCanonical } from "./canonical/encode";

/** SHA-256 of the canonical encoding of `state`, 64 lowercase hex digits. */
export function stateHash(state: unknown): string {
  return bytesToHex(sha256(encodeCanonical(state)));
}
