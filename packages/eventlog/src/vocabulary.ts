/**
 * Compiled validators for the message vocabulary (TypeBox TypeCompiler):
 * check a message's JSON form, then convert its U64/Bytes fields in place.
 * Each entry also carries the schema-directed reader of readLog's fast path
 * (jsonl-fast.ts).
 */
import { BYTES_MARK, type MessageDef, type MessageKind, U64_MARK } from "@iommu-sim/uapi";
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { base64ToBytes } from "./base64";
import { compileFastReader, type FastReader } from "./jsonl-fast";

export { bytesToBase64 } from "./base64";

type Path = readonly (string | "[]")[];

/** A message definition with its compiled checker and converter. */
export interface Compiled {
  readonly def: MessageDef;
  readonly check: TypeCheck<TSchema>;
  readonly convert: ((data: unknown) => unknown) | null;
  /** The schema-directed reader of readLog's fast path (jsonl-fast.ts), or null when the schema is outside its subset. */
  readonly fast: FastReader | null;
}

/** A validation failure: where (`data.iova`) and why. */
export interface ValidationIssue {
  readonly field: string;
  readonly reason: string;
}

/**
 * `"0x…"` (already validated: 1–16 lowercase hex digits) → bigint. Up to 13
 * digits fit a double exactly, and parseInt + BigInt(number) beats
 * BigInt(string) on the replay hot path.
 */
function hexToBigInt(s: string): bigint {
  const n = s.length;
  if (n <= 15) return BigInt(Number.parseInt(s, 16));
  return (
    (BigInt(Number.parseInt(s.slice(0, n - 8), 16)) << 32n) | BigInt(Number.parseInt(s.slice(n - 8), 16))
  );
}

function markedPaths(schema: TSchema, path: Path, out: { path: Path; mark: "u64" | "bytes" }[]): void {
  if (schema[U64_MARK] === true) out.push({ path, mark: "u64" });
  else if (schema[BYTES_MARK] === true) out.push({ path, mark: "bytes" });
  else if (schema.type === "object" && schema.properties !== undefined) {
    for (const [k, s] of Object.entries(schema.properties as Record<string, TSchema>))
      markedPaths(s, [...path, k], out);
  } else if (schema.type === "array" && schema.items !== undefined && !Array.isArray(schema.items)) {
    markedPaths(schema.items as TSchema, [...path, "[]"], out);
  } else if (schema.anyOf !== undefined || schema.oneOf !== undefined || schema.allOf !== undefined) {
    const inner: { path: Path; mark: "u64" | "bytes" }[] = [];
    for (const s of (schema.anyOf ?? schema.oneOf ?? schema.allOf) as TSchema[]) markedPaths(s, path, inner);
    if (inner.length > 0)
      throw new Error(`U64/Bytes fields inside unions are not supported (at ${path.join(".")})`);
  }
}

/**
 * A Bytes field whose text passes the schema's pattern but that `atob`
 * rejects (a length of 4n + 1, or padding on a length that needs none, as
 * in "AAAAA" or "AA="): reported as a validation issue of that field.
 */
class BadBase64 extends Error {
  constructor(readonly field: string) {
    super(`${field}: not base64`);
  }
}

/** `base64ToBytes`, failing with the field's path (`keys` joined by dots). */
function bytesAt(s: string, ...keys: (string | number)[]): Uint8Array {
  try {
    return base64ToBytes(s);
  } catch {
    throw new BadBase64(keys.join("."));
  }
}

function converterFor(schema: TSchema): ((data: unknown) => unknown) | null {
  const marks: { path: Path; mark: "u64" | "bytes" }[] = [];
  markedPaths(schema, [], marks);
  if (marks.length === 0) return null;
  // Fast path: every mark is a top-level field (or a top-level array of them), the common shape.
  if (marks.every((m) => m.path.length === 1 || (m.path.length === 2 && m.path[1] === "[]"))) {
    const top = marks.map((m) => ({ key: m.path[0]!, array: m.path.length === 2, u64: m.mark === "u64" }));
    return (data) => {
      const o = data as Record<string, unknown>;
      for (let i = 0; i < top.length; i++) {
        const m = top[i]!;
        const v = o[m.key];
        if (v === undefined) continue;
        if (m.array) {
          const a = v as string[];
          const out = new Array(a.length);
          for (let j = 0; j < a.length; j++) out[j] = m.u64 ? hexToBigInt(a[j]!) : bytesAt(a[j]!, m.key, j);
          o[m.key] = out;
        } else o[m.key] = m.u64 ? hexToBigInt(v as string) : bytesAt(v as string, m.key);
      }
      return o;
    };
  }
  /** Convert the marked field at `path[i…]` under `v`; `trail` is where `v` is (keys and indices). */
  const convertAt = (
    v: unknown,
    path: Path,
    i: number,
    mark: "u64" | "bytes",
    trail: (string | number)[],
  ): unknown => {
    if (i === path.length) return mark === "u64" ? hexToBigInt(v as string) : bytesAt(v as string, ...trail);
    if (v === undefined || v === null) return v;
    const key = path[i]!;
    if (key === "[]") {
      const arr = v as unknown[];
      for (let j = 0; j < arr.length; j++) arr[j] = convertAt(arr[j], path, i + 1, mark, [...trail, j]);
      return arr;
    }
    const obj = v as Record<string, unknown>;
    if (obj[key] !== undefined) obj[key] = convertAt(obj[key], path, i + 1, mark, [...trail, key]);
    return obj;
  };
  return (data) => {
    let d = data;
    for (const m of marks) d = convertAt(d, m.path, 0, m.mark, []);
    return d;
  };
}

/**
 * The registered message definitions, compiled once. `decode` validates the
 * JSON form of a message's data and converts it to its in-memory form.
 */
export class Vocabulary {
  private readonly byType = new Map<string, Compiled>();

  /** @throws Error if two definitions share a type. */
  constructor(defs: Iterable<MessageDef> = []) {
    for (const d of defs) this.register(d);
  }

  /** Add a definition. @throws Error on a duplicate type. */
  register(def: MessageDef): void {
    if (this.byType.has(def.type)) throw new Error(`message type '${def.type}' defined twice`);
    this.byType.set(def.type, {
      def,
      check: TypeCompiler.Compile(def.data),
      convert: converterFor(def.data),
      fast: compileFastReader(def.data),
    });
  }

  /** The definition of `type`, if registered. */
  get(type: string): MessageDef | undefined {
    return this.byType.get(type)?.def;
  }

  /** Whether `type` is a command or an event, if registered. */
  kindOf(type: string): MessageKind | undefined {
    return this.byType.get(type)?.def.kind;
  }

  /** Every registered definition. */
  definitions(): MessageDef[] {
    return [...this.byType.values()].map((c) => c.def);
  }

  /** The compiled entry of `type` (for hot loops: one lookup per record). */
  compiled(type: string): Compiled | undefined {
    return this.byType.get(type);
  }

  /**
   * Validate `data` (JSON form, freshly parsed — converted in place) for `type`.
   * @returns the in-memory data, or the first issue (`field` like `data.iova`).
   */
  decode(type: string, data: unknown): { ok: true; data: unknown } | { ok: false; issue: ValidationIssue } {
    const c = this.byType.get(type);
    if (c === undefined)
      return { ok: false, issue: { field: "type", reason: `unknown message type '${type}'` } };
    return decodeWith(c, data);
  }
}

/** Validate and convert `data` with a compiled entry (see `Vocabulary.decode`). */
export function decodeWith(
  c: Compiled,
  data: unknown,
): { ok: true; data: unknown } | { ok: false; issue: ValidationIssue } {
  if (!c.check.Check(data)) {
    const first = c.check.Errors(data).First();
    const field = `data${(first?.path ?? "").replaceAll("/", ".")}`;
    return { ok: false, issue: { field, reason: first?.message ?? "invalid" } };
  }
  if (c.convert === null) return { ok: true, data };
  try {
    return { ok: true, data: c.convert(data) };
  } catch (e) {
    if (!(e instanceof BadBase64)) throw e;
    return { ok: false, issue: { field: `data.${e.field}`, reason: "not base64 (length or padding)" } };
  }
}
