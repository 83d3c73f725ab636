/**
 * The canonical binary encoding of state values: the same value always gives
 * the same bytes, whatever the insertion order of its keys, on any machine.
 * It is both the snapshot file format and what `stateHash` hashes.
 *
 * Encodable: undefined, null, booleans, numbers, bigints, strings, arrays,
 * plain objects (keys sorted; `undefined` members omitted, so a missing key
 * and an undefined one are equal), Maps and Sets with primitive keys (sorted),
 * typed arrays, and bulk structures that implement `Bulk` (registered with
 * `registerBulk` so they can be decoded).
 */
import { ByteReader, ByteWriter } from "./bytes";

const enum Tag {
  Undefined = 0,
  Null = 1,
  False = 2,
  True = 3,
  UInt = 4,
  NegInt = 5,
  Float = 6,
  String = 7,
  BigInt = 8,
  NegBigInt = 9,
  Array = 10,
  Object = 11,
  Map = 12,
  Set = 13,
  Typed = 14,
  Bulk = 15,
}

/** Marks a bulk structure's encoding tag (a string unique per class). */
export const BULK_TAG: unique symbol = Symbol.for("iommu-sim.bulk");

/**
 * A bulk structure that encodes itself (compactly: a page table costs about
 * 8 bytes per entry). Its encoding must be canonical: equal contents, equal bytes.
 */
export interface Bulk {
  readonly [BULK_TAG]: string;
  encode(w: ByteWriter): void;
}

const decoders = new Map<string, (r: ByteReader) => unknown>();

/** Register how to decode a bulk structure's tag. Registering a tag twice with another decoder throws. */
export function registerBulk(tag: string, decode: (r: ByteReader) => unknown): void {
  const prior = decoders.get(tag);
  if (prior !== undefined && prior !== decode) throw new Error(`bulk tag '${tag}' registered twice`);
  decoders.set(tag, decode);
}

const TYPED = [
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
  BigInt64Array,
  Uint8ClampedArray,
] as const;

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function compareKeys(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function encodeBigInt(w: ByteWriter, v: bigint): void {
  const neg = v < 0n;
  const hex = (neg ? -v : v).toString(16);
  w.u8(neg ? Tag.NegBigInt : Tag.BigInt);
  w.string(hex);
}

/** Append the canonical encoding of `v` to `w`. @throws TypeError for values outside the encodable set. */
export function encodeValue(w: ByteWriter, v: unknown): void {
  switch (typeof v) {
    case "undefined":
      w.u8(Tag.Undefined);
      return;
    case "boolean":
      w.u8(v ? Tag.True : Tag.False);
      return;
    case "number":
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        w.u8(v >= 0 ? Tag.UInt : Tag.NegInt);
        w.varint(Math.abs(v));
      } else {
        w.u8(Tag.Float);
        w.f64(Number.isNaN(v) ? Number.NaN : v);
      }
      return;
    case "bigint":
      encodeBigInt(w, v);
      return;
    case "string":
      w.u8(Tag.String);
      w.string(v);
      return;
    case "object":
      encodeObject(w, v);
      return;
    default:
      throw new TypeError(`cannot encode a ${typeof v} in state`);
  }
}

function encodeObject(w: ByteWriter, v: object | null): void {
  if (v === null) {
    w.u8(Tag.Null);
    return;
  }
  if (Array.isArray(v)) {
    w.u8(Tag.Array);
    w.varint(v.length);
    for (const x of v) encodeValue(w, x);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    const kind = TYPED.findIndex((T) => v instanceof T);
    if (kind < 0) throw new TypeError("cannot encode a DataView in state");
    w.u8(Tag.Typed);
    w.u8(kind);
    w.varint(v.byteLength);
    w.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return;
  }
  if (BULK_TAG in v) {
    const bulk = v as Bulk;
    w.u8(Tag.Bulk);
    w.string(bulk[BULK_TAG]);
    bulk.encode(w);
    return;
  }
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(compareKeys);
    w.u8(Tag.Map);
    w.varint(keys.length);
    for (const k of keys) {
      encodeValue(w, k);
      encodeValue(w, v.get(k));
    }
    return;
  }
  if (v instanceof Set) {
    const keys = [...v].sort(compareKeys);
    w.u8(Tag.Set);
    w.varint(keys.length);
    for (const k of keys) encodeValue(w, k);
    return;
  }
  if (!isPlainObject(v))
    throw new TypeError(`cannot encode an instance of ${v.constructor?.name ?? "?"} in state`);
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec)
    .filter((k) => rec[k] !== undefined)
    .sort();
  w.u8(Tag.Object);
  w.varint(keys.length);
  for (const k of keys) {
    w.string(k);
    encodeValue(w, rec[k]);
  }
}

/** Read one value written by `encodeValue`. Objects and arrays come back frozen. */
export function decodeValue(r: ByteReader): unknown {
  const tag = r.u8() as Tag;
  switch (tag) {
    case Tag.Undefined:
      return undefined;
    case Tag.Null:
      return null;
    case Tag.False:
      return false;
    case Tag.True:
      return true;
    case Tag.UInt:
      return r.varint();
    case Tag.NegInt:
      return -r.varint();
    case Tag.Float:
      return r.f64();
    case Tag.String:
      return r.string();
    case Tag.BigInt:
      return BigInt(`0x${r.string()}`);
    case Tag.NegBigInt:
      return -BigInt(`0x${r.string()}`);
    case Tag.Array: {
      const n = r.varint();
      const a: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) a[i] = decodeValue(r);
      return Object.freeze(a);
    }
    case Tag.Object: {
      const n = r.varint();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = r.string();
        // defineProperty, not assignment: a key "__proto__" is data, never the prototype
        Object.defineProperty(o, k, {
          value: decodeValue(r),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return Object.freeze(o);
    }
    case Tag.Map: {
      const n = r.varint();
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = decodeValue(r);
        m.set(k, decodeValue(r));
      }
      return m;
    }
    case Tag.Set: {
      const n = r.varint();
      const s = new Set<unknown>();
      for (let i = 0; i < n; i++) s.add(decodeValue(r));
      return s;
    }
    case Tag.Typed: {
      const T = TYPED[r.u8()];
      if (T === undefined) throw new RangeError(`unknown typed-array kind at byte ${r.pos - 1}`);
      const bytes = r.bytes(r.varint()).slice();
      return new T(bytes.buffer, 0, bytes.byteLength / T.BYTES_PER_ELEMENT);
    }
    case Tag.Bulk: {
      const t = r.string();
      const decode = decoders.get(t);
      if (decode === undefined) throw new RangeError(`no decoder registered for bulk tag '${t}'`);
      return decode(r);
    }
    default:
      throw new RangeError(`unknown tag ${tag} at byte ${r.pos - 1}`);
  }
}

/** The canonical bytes of a value. */
export function encodeCanonical(v: unknown): Uint8Array {
  const w = new ByteWriter();
  encodeValue(w, v);
  return w.finish();
}

/** Decode canonical bytes. @throws RangeError on malformed or trailing input. */
export function decodeCanonical(bytes: Uint8Array): unknown {
  const r = new ByteReader(bytes);
  const v = decodeValue(r);
  if (!r.done) throw new RangeError(`trailing bytes after value at byte ${r.pos}`);
  return v;
}
