/**
 * The byte codec behind `Layout.decode` / `Layout.encode`.
 *
 * Each layout is compiled once into a plan (parallel typed arrays of member
 * kinds, offsets and keys) and then into straight-line decode/encode
 * functions with constant offsets (one object literal per decode, no
 * per-field closures). Where code generation is forbidden (a browser
 * Content-Security-Policy without 'unsafe-eval') the same plan is run by an
 * interpreter instead. Little endian, as on every architecture modelled.
 */
import type { FieldInfo, FieldType, ScalarType } from "./struct";

const K_U8 = 0;
const K_U16 = 1;
const K_U32 = 2;
const K_S32 = 3;
const K_U64 = 4;
const K_S64 = 5;
const K_BYTES = 6;
const K_SCALAR_ARRAY = 7;
const K_NESTED = 8;
const K_NESTED_ARRAY = 9;

const SCALAR_KIND: Readonly<Record<ScalarType, number>> = {
  u8: K_U8,
  u16: K_U16,
  u32: K_U32,
  s32: K_S32,
  u64: K_U64,
  s64: K_S64,
};

const KIND_SIZE = [1, 2, 4, 4, 8, 8];
const GETTER = ["getUint8", "getUint16", "getUint32", "getInt32", "getBigUint64", "getBigInt64"];
const SETTER = ["setUint8", "setUint16", "setUint32", "setInt32", "setBigUint64", "setBigInt64"];

/** @internal A decoder specialised for one plan: `(view, bytes, base) → object`. */
export type DecodeFn = (view: DataView, bytes: Uint8Array, base: number) => Record<string, unknown>;

/** @internal An encoder specialised for one plan; writes the members of `value` that are not undefined. */
export type EncodeFn = (
  view: DataView,
  bytes: Uint8Array,
  base: number,
  value: Record<string, unknown>,
  where: string,
) => void;

/** @internal A compiled layout: one entry per member. */
export interface CodecPlan {
  readonly n: number;
  readonly kinds: Uint8Array;
  readonly offsets: Int32Array;
  /** Element count for arrays; 0 otherwise. */
  readonly lengths: Int32Array;
  /** Element kind for scalar arrays; element size for nested arrays. */
  readonly elem: Int32Array;
  readonly keys: readonly string[];
  readonly subs: readonly (CodecPlan | null)[];
  readonly decode: DecodeFn;
  readonly encode: EncodeFn;
}

interface HasPlan {
  readonly plan: CodecPlan;
  readonly size: number;
}

function isLayout(t: FieldType | ScalarType): t is FieldType & HasPlan {
  return typeof t === "object" && "plan" in t;
}

/** @internal Compile members into a plan with specialised decode/encode functions. */
export function planOf(fields: readonly FieldInfo[]): CodecPlan {
  const n = fields.length;
  const kinds = new Uint8Array(n);
  const offsets = new Int32Array(n);
  const lengths = new Int32Array(n);
  const elem = new Int32Array(n);
  const keys: string[] = [];
  const subs: (CodecPlan | null)[] = [];
  fields.forEach((f, i) => {
    offsets[i] = f.offset;
    keys.push(f.name);
    const t = f.spec;
    if (typeof t === "string") {
      kinds[i] = SCALAR_KIND[t];
      subs.push(null);
    } else if (isLayout(t)) {
      kinds[i] = K_NESTED;
      subs.push(t.plan);
    } else {
      lengths[i] = t.length;
      const e = t.elem;
      if (typeof e === "string") {
        kinds[i] = e === "u8" ? K_BYTES : K_SCALAR_ARRAY;
        elem[i] = SCALAR_KIND[e];
        subs.push(null);
      } else {
        const nested = e as unknown as HasPlan;
        kinds[i] = K_NESTED_ARRAY;
        elem[i] = nested.size;
        subs.push(nested.plan);
      }
    }
  });
  const plan = { n, kinds, offsets, lengths, elem, keys, subs } as unknown as Omit<
    CodecPlan,
    "decode" | "encode"
  > & {
    decode: DecodeFn;
    encode: EncodeFn;
  };
  plan.decode = compileDecoder(plan);
  plan.encode = compileEncoder(plan);
  return plan;
}

function readScalar(kind: number, view: DataView, at: number): number | bigint {
  switch (kind) {
    case K_U8:
      return view.getUint8(at);
    case K_U16:
      return view.getUint16(at, true);
    case K_U32:
      return view.getUint32(at, true);
    case K_S32:
      return view.getInt32(at, true);
    case K_U64:
      return view.getBigUint64(at, true);
    default:
      return view.getBigInt64(at, true);
  }
}

/** Decode member `i` of `plan` (any kind) at absolute offset `at`. */
function decodeMember(plan: CodecPlan, i: number, view: DataView, bytes: Uint8Array, at: number): unknown {
  const kind = plan.kinds[i] as number;
  if (kind <= K_S64) return readScalar(kind, view, at);
  const len = plan.lengths[i] as number;
  switch (kind) {
    case K_BYTES:
      return bytes.slice(at, at + len);
    case K_SCALAR_ARRAY: {
      const ek = plan.elem[i] as number;
      const es = KIND_SIZE[ek] as number;
      const arr: (number | bigint)[] = new Array(len);
      for (let j = 0; j < len; j++) arr[j] = readScalar(ek, view, at + j * es);
      return arr;
    }
    case K_NESTED:
      return (plan.subs[i] as CodecPlan).decode(view, bytes, at);
    default: {
      const es = plan.elem[i] as number;
      const sub = plan.subs[i] as CodecPlan;
      const arr: unknown[] = new Array(len);
      for (let j = 0; j < len; j++) arr[j] = sub.decode(view, bytes, at + j * es);
      return arr;
    }
  }
}

/** @internal The interpreter: decode a plan at `base`. The caller has checked bounds. */
export function decodeAt(
  plan: CodecPlan,
  view: DataView,
  bytes: Uint8Array,
  base: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < plan.n; i++) {
    out[plan.keys[i] as string] = decodeMember(plan, i, view, bytes, base + (plan.offsets[i] as number));
  }
  return out;
}

function typeError(where: string, key: string, want: string, got: unknown): TypeError {
  return new TypeError(`${where}.${key}: expected ${want}, got ${typeof got}`);
}

function writeScalar(kind: number, view: DataView, at: number, v: unknown, where: string, key: string): void {
  if (kind >= K_U64) {
    if (typeof v !== "bigint") throw typeError(where, key, "bigint", v);
    // DataView wraps modulo 2^64, like C assignment to a __u64/__s64.
    if (kind === K_U64) view.setBigUint64(at, v, true);
    else view.setBigInt64(at, v, true);
    return;
  }
  if (typeof v !== "number") throw typeError(where, key, "number", v);
  switch (kind) {
    case K_U8:
      view.setUint8(at, v);
      break;
    case K_U16:
      view.setUint16(at, v, true);
      break;
    case K_U32:
      view.setUint32(at, v, true);
      break;
    default:
      view.setInt32(at, v, true);
  }
}

/** Encode member `i` (any kind) whose value `v` is not undefined. */
function encodeMember(
  plan: CodecPlan,
  i: number,
  view: DataView,
  bytes: Uint8Array,
  at: number,
  v: unknown,
  where: string,
): void {
  const key = plan.keys[i] as string;
  const kind = plan.kinds[i] as number;
  if (kind <= K_S64) {
    writeScalar(kind, view, at, v, where, key);
    return;
  }
  const len = plan.lengths[i] as number;
  switch (kind) {
    case K_BYTES: {
      if (!(v instanceof Uint8Array) && !Array.isArray(v)) throw typeError(where, key, "Uint8Array", v);
      const src = v as ArrayLike<number>;
      const count = Math.min(len, src.length);
      for (let j = 0; j < count; j++) bytes[at + j] = src[j] as number;
      break;
    }
    case K_SCALAR_ARRAY: {
      if (!Array.isArray(v)) throw typeError(where, key, "array", v);
      const ek = plan.elem[i] as number;
      const es = KIND_SIZE[ek] as number;
      const count = Math.min(len, v.length);
      for (let j = 0; j < count; j++) {
        const e: unknown = v[j];
        if (e !== undefined) writeScalar(ek, view, at + j * es, e, where, `${key}[${j}]`);
      }
      break;
    }
    case K_NESTED:
      if (typeof v !== "object" || v === null) throw typeError(where, key, "object", v);
      (plan.subs[i] as CodecPlan).encode(view, bytes, at, v as Record<string, unknown>, `${where}.${key}`);
      break;
    default: {
      if (!Array.isArray(v)) throw typeError(where, key, "array", v);
      const es = plan.elem[i] as number;
      const sub = plan.subs[i] as CodecPlan;
      const count = Math.min(len, v.length);
      for (let j = 0; j < count; j++) {
        const e: unknown = v[j];
        if (e !== undefined)
          sub.encode(view, bytes, at + j * es, e as Record<string, unknown>, `${where}.${key}[${j}]`);
      }
    }
  }
}

/**
 * @internal The interpreter: encode the members of `value` that are not
 * undefined. Values wrap to the member's width as C assignment does.
 * Throws TypeError on a wrong JS type (a programming error).
 */
export function encodeAt(
  plan: CodecPlan,
  view: DataView,
  bytes: Uint8Array,
  base: number,
  value: Record<string, unknown>,
  where: string,
): void {
  for (let i = 0; i < plan.n; i++) {
    const v = value[plan.keys[i] as string];
    if (v !== undefined) encodeMember(plan, i, view, bytes, base + (plan.offsets[i] as number), v, where);
  }
}

/** `new Function`, or undefined where code generation is forbidden. */
function generate<T>(params: readonly string[], body: string): ((...args: unknown[]) => T) | undefined {
  try {
    return new Function(...params, body) as (...args: unknown[]) => T;
  } catch {
    return undefined;
  }
}

function compileDecoder(plan: Omit<CodecPlan, "decode" | "encode">): DecodeFn {
  const parts: string[] = [];
  for (let i = 0; i < plan.n; i++) {
    const at = `b + ${plan.offsets[i]}`;
    const kind = plan.kinds[i] as number;
    let expr: string;
    if (kind === K_U8) expr = `v.getUint8(${at})`;
    else if (kind <= K_S64) expr = `v.${GETTER[kind]}(${at}, true)`;
    else if (kind === K_BYTES) expr = `u.slice(${at}, ${at} + ${plan.lengths[i]})`;
    else if (kind === K_NESTED) expr = `p.subs[${i}].decode(v, u, ${at})`;
    else expr = `m(p, ${i}, v, u, ${at})`;
    parts.push(`${JSON.stringify(plan.keys[i])}: ${expr}`);
  }
  const make = generate<DecodeFn>(
    ["p", "m"],
    `return function (v, u, b) { return { ${parts.join(", ")} }; };`,
  );
  const full = plan as CodecPlan;
  return make?.(full, decodeMember) ?? ((view, bytes, base) => decodeAt(full, view, bytes, base));
}

function compileEncoder(plan: Omit<CodecPlan, "decode" | "encode">): EncodeFn {
  const lines: string[] = ["let t;"];
  for (let i = 0; i < plan.n; i++) {
    const key = JSON.stringify(plan.keys[i]);
    const at = `b + ${plan.offsets[i]}`;
    const kind = plan.kinds[i] as number;
    lines.push(`if ((t = x[${key}]) !== undefined) {`);
    if (kind <= K_S32) {
      lines.push(`  if (typeof t !== "number") throw te(w, ${key}, "number", t);`);
      lines.push(kind === K_U8 ? `  v.setUint8(${at}, t);` : `  v.${SETTER[kind]}(${at}, t, true);`);
    } else if (kind <= K_S64) {
      lines.push(`  if (typeof t !== "bigint") throw te(w, ${key}, "bigint", t);`);
      lines.push(`  v.${SETTER[kind]}(${at}, t, true);`);
    } else {
      lines.push(`  em(p, ${i}, v, u, ${at}, t, w);`);
    }
    lines.push("}");
  }
  const make = generate<EncodeFn>(
    ["p", "em", "te"],
    `return function (v, u, b, x, w) {\n${lines.join("\n")}\n};`,
  );
  const full = plan as CodecPlan;
  return (
    make?.(full, encodeMember, typeError) ??
    ((view, bytes, base, value, where) => encodeAt(full, view, bytes, base, value, where))
  );
}
