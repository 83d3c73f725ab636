/**
 * Schema building blocks for the command/event vocabulary.
 *
 * Schemas are TypeBox schemas (JSON Schema + static types). They describe the
 * JSON form of a message's `data` as it appears in a `.jsonl` log; the static
 * type is the in-memory form. The two differ only for:
 * - `U64()`: in memory a `bigint` in [0, 2^64); in JSON a lowercase `"0x…"` string;
 * - `Bytes()`: in memory a `Uint8Array`; in JSON a base64 string.
 * The event log compiles each schema once, checks the JSON form, then converts
 * the marked fields (see `decodePaths`).
 *
 * Why TypeBox: its compiled checkers measured fastest of zod 4, valibot 1 and
 * TypeBox 0.34 on 300k log lines (≈595k lines/s with JSON.parse, vs ≈390k and
 * ≈400k), see packages/eventlog/README.md.
 */
import { Kind, type TSchema, Type } from "@sinclair/typebox";

/** JSON-schema marker on a U64 field. */
export const U64_MARK = "x-iommu-sim-u64";
/** JSON-schema marker on a Bytes field. */
export const BYTES_MARK = "x-iommu-sim-bytes";

/** A u64 field: `bigint` in memory, `"0x…"` (1–16 lowercase hex digits) in JSON. */
export interface TU64 extends TSchema {
  [Kind]: "String";
  static: bigint;
  type: "string";
}

/** A byte-string field: `Uint8Array` in memory, base64 in JSON. */
export interface TBytes extends TSchema {
  [Kind]: "String";
  static: Uint8Array;
  type: "string";
}

/** u64 schema (see `TU64`). `description` documents units, e.g. "bytes". */
export function U64(description?: string): TU64 {
  return Type.String({
    pattern: "^0x[0-9a-f]{1,16}$",
    [U64_MARK]: true,
    ...(description === undefined ? {} : { description }),
  }) as unknown as TU64;
}

/** Byte-string schema (see `TBytes`). */
export function Bytes(description?: string): TBytes {
  return Type.String({
    pattern: "^[A-Za-z0-9+/]*={0,2}$",
    [BYTES_MARK]: true,
    ...(description === undefined ? {} : { description }),
  }) as unknown as TBytes;
}

/** An unsigned integer of `bits` bits (≤ 32), exact in a JS number. */
export function UInt(bits: 8 | 16 | 20 | 31 | 32, description?: string) {
  return Type.Integer({
    minimum: 0,
    maximum: 2 ** bits - 1,
    ...(description === undefined ? {} : { description }),
  });
}

/** An object id in iommufd's 31-bit id space ([1, 2^31 − 1]). */
export function ObjectId(description?: string) {
  return Type.Integer({
    minimum: 1,
    maximum: 2 ** 31 - 1,
    ...(description === undefined ? {} : { description }),
  });
}

/**
 * A page-frame number (4 KiB frames): a non-negative safe integer. 2^52 frames
 * cover the 64-bit physical space, so a JS number is exact.
 */
export function Pfn(description?: string) {
  return Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    ...(description === undefined ? {} : { description }),
  });
}
