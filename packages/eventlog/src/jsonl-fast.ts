/**
 * The fast path of `readLog`: a reader compiled from a message's TypeBox
 * schema that decodes the canonical text `encodeRecord` writes (no
 * whitespace, no escapes, integers without fraction or exponent) straight
 * into the in-memory form — u64 fields to `bigint`, bytes to `Uint8Array` —
 * checking the schema as it goes, without `JSON.parse`'s intermediate
 * objects and strings. On this project's replay benchmark it does the work
 * of `JSON.parse` + the compiled check + the conversion in about half the
 * time `JSON.parse` alone takes.
 *
 * It never rejects. Any text it does not handle — another spelling of the
 * same JSON, a value out of range, an unknown or repeated member, an escape —
 * makes it answer `MISS`, and the caller runs the exact path (`JSON.parse`,
 * envelope checks, the TypeBox check), which accepts the line or names its
 * error. So the fast path only has to be sound: a line it accepts is one the
 * exact path accepts, with an equal result (same values, same member order).
 *
 * A schema compiles only when every node is one of the kinds the project's
 * vocabulary uses, with only the keywords whose TypeBox check it mirrors
 * (`TypeCompiler.Code` of @sinclair/typebox 0.34): Object (`properties`,
 * `required`, `additionalProperties`), Integer (`minimum`, `maximum`),
 * Boolean, Literal, Union of Literals, Array (`items`, `minItems`,
 * `maxItems`), String (`pattern`, `minLength`, `maxLength`), and the U64 and
 * Bytes strings of @iommu-sim/uapi. Anything else: no fast reader, the type
 * always takes the exact path.
 */
import { BYTES_MARK, U64_MARK } from "@iommu-sim/uapi";
import { Kind, type TSchema } from "@sinclair/typebox";
import { base64ToBytes } from "./base64";

/** The answer of a fast reader for text it leaves to the exact path. */
export const MISS: unique symbol = Symbol("jsonl-fast.miss");

/** Position in the line being read. */
export interface Cursor {
  s: string;
  i: number;
}

/** Reads one JSON value at `c.i` and moves past it; `MISS` when not handled (the cursor is then anywhere). */
export type FastReader = (c: Cursor) => unknown;

const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const LOWER_A = 0x61;
const LOWER_E = 0x65;
const LOWER_F = 0x66;
const LOWER_X = 0x78;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

/** The patterns of uapi's `U64()` and `Bytes()`: the fast readers below implement exactly these. */
const U64_PATTERN = "^0x[0-9a-f]{1,16}$";
const BYTES_PATTERN = "^[A-Za-z0-9+/]*={0,2}$";

/** Annotations TypeBox does not check. */
const ANNOTATIONS = new Set(["description", "title", "$comment", "examples", "default"]);

/**
 * An integer at `c.i` (RFC 8259 §6's `int`): `-`? then `0` or 1–15 digits
 * (exact in a double), not followed by a fraction, an exponent or a digit
 * (a leading zero is not JSON). `-0` is left to the exact path (JSON.parse
 * gives −0).
 */
export function readInteger(c: Cursor): number | typeof MISS {
  const s = c.s;
  let i = c.i;
  let ch = s.charCodeAt(i);
  const negative = ch === MINUS;
  if (negative) ch = s.charCodeAt(++i);
  let n = 0;
  if (ch === ZERO) {
    if (negative) return MISS;
    ch = s.charCodeAt(++i);
  } else if (ch >= ONE && ch <= NINE) {
    const start = i;
    do {
      n = n * 10 + (ch - ZERO);
      ch = s.charCodeAt(++i);
    } while (ch >= ZERO && ch <= NINE);
    if (i - start > 15) return MISS;
  } else return MISS;
  if (ch === DOT || ch === LOWER_E || ch === UPPER_E || (ch >= ZERO && ch <= NINE)) return MISS;
  c.i = i;
  return negative ? -n : n;
}

/**
 * The index of the closing quote of the string literal whose opening quote
 * is at `i`, or −1 if it holds an escape or a control character (RFC 8259
 * §7 forbids raw U+0000–U+001F; escapes are the exact path's) or is
 * unterminated. Without escapes, the value is the text between the quotes.
 */
export function stringEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== QUOTE) return -1;
  const n = s.length;
  for (let j = i + 1; j < n; j++) {
    const ch = s.charCodeAt(j);
    if (ch === QUOTE) return j;
    if (ch === BACKSLASH || ch < 0x20) return -1;
  }
  return -1;
}

/** A string's value at `c.i` (see `stringEnd`). */
function readString(c: Cursor): string | typeof MISS {
  const end = stringEnd(c.s, c.i);
  if (end < 0) return MISS;
  const v = c.s.slice(c.i + 1, end);
  c.i = end + 1;
  return v;
}

/**
 * A u64 `"0x…"` (1–16 lowercase hex digits) as a bigint. Up to 13 digits
 * fit a double exactly; longer ones join two halves.
 */
function readU64(c: Cursor): bigint | typeof MISS {
  const s = c.s;
  let i = c.i;
  if (s.charCodeAt(i) !== QUOTE || s.charCodeAt(i + 1) !== ZERO || s.charCodeAt(i + 2) !== LOWER_X)
    return MISS;
  i += 3;
  const start = i;
  let n = 0;
  for (;;) {
    const ch = s.charCodeAt(i);
    if (ch >= ZERO && ch <= NINE) n = n * 16 + (ch - ZERO);
    else if (ch >= LOWER_A && ch <= LOWER_F) n = n * 16 + (ch - LOWER_A + 10);
    else break;
    i++;
  }
  const digits = i - start;
  if (digits < 1 || digits > 16 || s.charCodeAt(i) !== QUOTE) return MISS;
  c.i = i + 1;
  if (digits <= 13) return BigInt(n);
  const hi = Number.parseInt(s.slice(start, i - 8), 16);
  const lo = Number.parseInt(s.slice(i - 8, i), 16);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** `true` or `false` at `c.i`. */
function readBoolean(c: Cursor): boolean | typeof MISS {
  if (c.s.startsWith("true", c.i)) {
    c.i += 4;
    return true;
  }
  if (c.s.startsWith("false", c.i)) {
    c.i += 5;
    return false;
  }
  return MISS;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Whether `schema` has only the given string keywords (symbols such as TypeBox's Kind are ignored). */
function onlyKeywords(schema: TSchema, allowed: readonly string[]): boolean {
  for (const k of Object.keys(schema)) if (!allowed.includes(k) && !ANNOTATIONS.has(k)) return false;
  return true;
}

function integerReader(schema: TSchema): FastReader | null {
  if (schema.type !== "integer" || !onlyKeywords(schema, ["type", "minimum", "maximum"])) return null;
  const min: unknown = schema.minimum ?? Number.NEGATIVE_INFINITY;
  const max: unknown = schema.maximum ?? Number.POSITIVE_INFINITY;
  if (typeof min !== "number" || typeof max !== "number") return null;
  return (c) => {
    const v = readInteger(c);
    return v === MISS || v < min || v > max ? MISS : v;
  };
}

function stringReader(schema: TSchema): FastReader | null {
  if (schema.type !== "string") return null;
  if (schema[U64_MARK] === true) {
    const ok = schema.pattern === U64_PATTERN && onlyKeywords(schema, ["type", "pattern", U64_MARK]);
    return ok ? readU64 : null;
  }
  if (schema[BYTES_MARK] === true) {
    if (schema.pattern !== BYTES_PATTERN || !onlyKeywords(schema, ["type", "pattern", BYTES_MARK]))
      return null;
    const re = new RegExp(BYTES_PATTERN);
    return (c) => {
      const v = readString(c);
      // With a length of 4n and the pattern's at most two trailing "=", atob
      // (WHATWG forgiving-base64 decode) cannot fail; other lengths are the exact path's.
      return v === MISS || v.length % 4 !== 0 || !re.test(v) ? MISS : base64ToBytes(v);
    };
  }
  if (!onlyKeywords(schema, ["type", "pattern", "minLength", "maxLength"])) return null;
  const { pattern, minLength = 0, maxLength = Number.POSITIVE_INFINITY } = schema;
  if ((pattern !== undefined && typeof pattern !== "string") || !isNonNegInt(minLength)) return null;
  if (maxLength !== Number.POSITIVE_INFINITY && !isNonNegInt(maxLength)) return null;
  const re = pattern === undefined ? null : new RegExp(pattern);
  return (c) => {
    const v = readString(c);
    if (v === MISS || v.length < minLength || v.length > maxLength) return MISS;
    return re === null || re.test(v) ? v : MISS;
  };
}

/** A Literal's reader: the value read, compared with the literal by `===` as TypeBox does. */
function literalReader(schema: TSchema): FastReader | null {
  if (!onlyKeywords(schema, ["type", "const"])) return null;
  const v: unknown = schema.const;
  const read =
    typeof v === "string"
      ? readString
      : typeof v === "number"
        ? readInteger
        : typeof v === "boolean"
          ? readBoolean
          : null;
  if (read === null) return null;
  // The value read, not `v`: `0 === -0`, and the exact path keeps JSON.parse's value.
  return (c) => {
    const r = read(c);
    return r === v ? r : MISS;
  };
}

/** A Union of Literals: the first member that reads (the cursor is reset between tries). */
function unionReader(schema: TSchema): FastReader | null {
  if (!onlyKeywords(schema, ["anyOf"]) || !Array.isArray(schema.anyOf)) return null;
  const members: FastReader[] = [];
  for (const m of schema.anyOf as TSchema[]) {
    const r = m[Kind] === "Literal" ? literalReader(m) : null;
    if (r === null) return null;
    members.push(r);
  }
  return (c) => {
    const at = c.i;
    for (const m of members) {
      const v = m(c);
      if (v !== MISS) return v;
      c.i = at;
    }
    return MISS;
  };
}

function arrayReader(schema: TSchema): FastReader | null {
  if (schema.type !== "array" || !onlyKeywords(schema, ["type", "items", "minItems", "maxItems"]))
    return null;
  const { items, minItems = 0, maxItems = Number.POSITIVE_INFINITY } = schema;
  if (typeof items !== "object" || items === null || Array.isArray(items) || !isNonNegInt(minItems))
    return null;
  if (maxItems !== Number.POSITIVE_INFINITY && !isNonNegInt(maxItems)) return null;
  const item = compileFastReader(items as TSchema);
  if (item === null) return null;
  // Items gather in a scratch array (a schema is a tree: this reader never
  // re-enters itself) and are copied out at their exact size; a pushed-to
  // array would keep room for about twice its items for as long as the log
  // keeps the record.
  const scratch: unknown[] = [];
  return (c) => {
    const s = c.s;
    if (s.charCodeAt(c.i) !== LBRACKET) return MISS;
    scratch.length = 0;
    if (s.charCodeAt(++c.i) === RBRACKET) c.i++;
    else {
      for (;;) {
        const v = item(c);
        if (v === MISS) return MISS;
        scratch.push(v);
        const ch = s.charCodeAt(c.i++);
        if (ch === RBRACKET) break;
        if (ch !== COMMA) return MISS;
      }
    }
    const n = scratch.length;
    const out = n < minItems || n > maxItems ? MISS : scratch.slice();
    scratch.length = 0;
    return out;
  };
}

/** A member name the reader can match in the text as is (JSON would escape `"`, `\` and controls). */
function plainName(name: string): boolean {
  if (name === "__proto__") return false;
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === QUOTE || ch === BACKSLASH || ch < 0x20) return false;
  }
  return true;
}

/**
 * An object of known members, in any order, each at most once (JSON.parse
 * would keep the last of a repeated member; the exact path handles that).
 * An unknown member is a miss whether or not `additionalProperties` allows
 * it. Members are stored in text order, as JSON.parse does.
 */
function objectReader(schema: TSchema): FastReader | null {
  const extra = schema.additionalProperties;
  if (
    schema.type !== "object" ||
    !onlyKeywords(schema, ["type", "properties", "required", "additionalProperties"]) ||
    (extra !== undefined && typeof extra !== "boolean")
  )
    return null;
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  const required: unknown = schema.required ?? [];
  if (!Array.isArray(required)) return null;
  const names = Object.keys(properties);
  if (names.length > 30 || !names.every(plainName)) return null;
  const readers: FastReader[] = [];
  let requiredMask = 0;
  for (const [k, name] of names.entries()) {
    const r = compileFastReader(properties[name]!);
    if (r === null) return null;
    readers.push(r);
    if (required.includes(name)) requiredMask |= 1 << k;
  }
  if (required.some((r) => typeof r !== "string" || !names.includes(r))) return null;
  const Plain = plainConstructor();
  // The member at each text position last time: writers keep one order, so the first guess hits.
  const guess = names.map((_, k) => k);
  /** The member whose `"name":` starts at `at` (just past the opening quote), else −1. */
  const member = (s: string, at: number, position: number): number => {
    const g = guess[position];
    if (g !== undefined && isMember(s, at, names[g]!)) return g;
    for (let k = 0; k < names.length; k++) {
      if (isMember(s, at, names[k]!)) {
        if (position < guess.length) guess[position] = k;
        return k;
      }
    }
    return -1;
  };
  return (c) => {
    const s = c.s;
    if (s.charCodeAt(c.i) !== LBRACE) return MISS;
    const o = new Plain();
    let seen = 0;
    if (s.charCodeAt(++c.i) === RBRACE) {
      c.i++;
      return requiredMask === 0 ? o : MISS;
    }
    for (let position = 0; ; position++) {
      if (s.charCodeAt(c.i) !== QUOTE) return MISS;
      const k = member(s, c.i + 1, position);
      if (k < 0 || (seen & (1 << k)) !== 0) return MISS;
      seen |= 1 << k;
      const name = names[k]!;
      c.i += name.length + 3;
      const v = readers[k]!(c);
      if (v === MISS) return MISS;
      o[name] = v;
      const ch = s.charCodeAt(c.i++);
      if (ch === RBRACE) return (seen & requiredMask) === requiredMask ? o : MISS;
      if (ch !== COMMA) return MISS;
    }
  };
}

/**
 * A constructor of plain objects (prototype Object.prototype, like JSON.parse's)
 * with a map of its own: V8's in-object slack tracking sizes its objects to
 * the members they get, where `{}` has room for 4 in the object and puts the
 * rest in a second allocation.
 */
function plainConstructor(): new () => Record<string, unknown> {
  const Plain = function (this: object) {} as unknown as new () => Record<string, unknown>;
  Plain.prototype = Object.prototype;
  return Plain;
}

/** Whether `name":` is at `at`. */
function isMember(s: string, at: number, name: string): boolean {
  const end = at + name.length;
  return s.charCodeAt(end) === QUOTE && s.charCodeAt(end + 1) === COLON && s.startsWith(name, at);
}

/**
 * The fast reader of a schema, or `null` when some node is outside the
 * supported subset (see the file comment).
 */
export function compileFastReader(schema: TSchema): FastReader | null {
  switch (schema[Kind]) {
    case "Object":
      return objectReader(schema);
    case "Integer":
      return integerReader(schema);
    case "String":
      return stringReader(schema);
    case "Boolean":
      return schema.type === "boolean" && onlyKeywords(schema, ["type"]) ? readBoolean : null;
    case "Literal":
      return literalReader(schema);
    case "Union":
      return unionReader(schema);
    case "Array":
      return arrayReader(schema);
    default:
      return null;
  }
}
