/**
 * The declarative layout model: C structs and unions described as data, with
 * offsets, sizes and alignment computed by the C rules of the LP64 Linux ABIs
 * (x86_64, arm64, riscv64): every scalar is aligned to its own size,
 * `__aligned_u64`/`__u64`/`__aligned_le64` are 8-byte aligned, a struct's
 * alignment is its largest member's, and its size is rounded up to that
 * alignment. Little endian.
 *
 * ```ts
 * const map = defineStruct("iommu_ioas_map", [
 *   field("size", "u32"), field("flags", "u32"), field("ioas_id", "u32"),
 *   reserved("__reserved", "u32"),
 *   field("user_va", "u64"), field("length", "u64"), field("iova", "u64"),
 * ], { source: "include/uapi/linux/iommufd.h (Linux v6.17)", lastMandatory: "iova" });
 * map.size;                 // 40
 * map.offsetOf("iova");     // 32
 * map.decode(bytes).iova;   // bigint
 * ```
 */
import { type CodecPlan, planOf } from "./codec";

/** Scalar C types: `__u8`, `__u16`, `__u32`, `__s32`, `__u64` (also `__aligned_u64`, `__aligned_le64`), `__s64`. */
export type ScalarType = "u8" | "u16" | "u32" | "s32" | "u64" | "s64";

/** Size in bytes of each scalar type (also its alignment on LP64 Linux). */
export const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  s32: 4,
  u64: 8,
  s64: 8,
};

/** A fixed-length C array `elem name[length]`. */
export interface ArrayType<E extends ScalarType | AnyLayout = ScalarType | AnyLayout> {
  readonly kind: "array";
  readonly elem: E;
  readonly length: number;
}

/** The type of one member: a scalar, a fixed array, or a nested struct/union layout. */
export type FieldType = ScalarType | ArrayType | AnyLayout;

/** One named member as declared (before offsets are computed). */
export interface FieldSpec<N extends string = string, T extends FieldType = FieldType> {
  readonly kind: "field";
  readonly name: N;
  readonly type: T;
  /** Linux's "must be 0" fields (`__reserved`, padding): non-zero → EOPNOTSUPP (iommufd) / EINVAL (VFIO, old UAPI). */
  readonly reserved: boolean;
}

/** An anonymous union inside a struct: its members share one offset and are accessed directly on the parent. */
export interface AnonUnionSpec<M extends readonly FieldSpec[] = readonly FieldSpec[]> {
  readonly kind: "anon-union";
  readonly members: M;
}

/** An item of a struct declaration. */
export type MemberSpec = FieldSpec | AnonUnionSpec;

/** The JS value of a scalar: bigint for 64-bit types, number otherwise. */
export type ScalarValue<S extends ScalarType> = S extends "u64" | "s64" ? bigint : number;

/**
 * The JS value of a member of type `T`: numbers for 8/16/32-bit scalars,
 * bigint for 64-bit ones, `Uint8Array` for `__u8 x[N]`, arrays for other fixed
 * arrays, objects for nested structs and unions.
 */
export type ValueOf<T> = T extends ScalarType
  ? ScalarValue<T>
  : T extends ArrayType<infer E>
    ? E extends "u8"
      ? Uint8Array
      : E extends ScalarType
        ? ScalarValue<E>[]
        : E extends Layout<infer V>
          ? V[]
          : never
    : T extends Layout<infer V>
      ? V
      : never;

type FieldsOf<I> = I extends FieldSpec ? I : I extends AnonUnionSpec<infer M> ? M[number] : never;

/** The decoded object of a struct declared with members `F`. */
export type StructValue<F extends readonly MemberSpec[]> = {
  -readonly [K in FieldsOf<F[number]> as K["name"]]: ValueOf<K["type"]>;
};

/** What `encode` accepts: any subset of the fields (missing ones are written as zero). */
export type EncodeInput<V> = V extends bigint | number | Uint8Array
  ? V
  : V extends readonly (infer E)[]
    ? readonly EncodeInput<E>[]
    : { readonly [K in keyof V]?: EncodeInput<V[K]> };

/** One member with its computed placement. Offsets and sizes are in bytes. */
export interface FieldInfo {
  /** Member name exactly as in the Linux header. */
  readonly name: string;
  /** Byte offset from the start of the enclosing struct (`offsetof`). */
  readonly offset: number;
  /** Size in bytes (`sizeof` of the member). */
  readonly size: number;
  /** Alignment in bytes. */
  readonly align: number;
  /** C-like type text: `"u32"`, `"u64"`, `"u8[3]"`, `"struct iommu_iova_range"`, `"union ..."`. */
  readonly type: string;
  /** The member's type as declared. */
  readonly spec: FieldType;
  /** A "must be 0" field. */
  readonly reserved: boolean;
  /** True for members of an anonymous union (they overlap their siblings). */
  readonly inUnion: boolean;
}

/** Options of `defineStruct` / `defineUnion`. */
export interface LayoutOptions {
  /** Where the layout comes from: file and kernel version, e.g. `"include/uapi/linux/iommufd.h (Linux v6.17)"`. */
  readonly source: string;
  /**
   * The last mandatory member (`IOCTL_OP(..., last)` in iommufd, `minsz`'s
   * `offsetofend` in VFIO). The minimum user size is `offsetofend` of it.
   * Defaults to the last member (minimum = whole struct).
   */
  readonly lastMandatory?: string;
  /** Name of the flags member checked against `knownFlags` (default `"flags"` when `knownFlags` is set). */
  readonly flagsField?: string;
  /** Bits of `flagsField` this ABI version defines; others → EOPNOTSUPP (iommufd) / EINVAL (VFIO). */
  readonly knownFlags?: number;
  /** One-line description for docs and error messages. */
  readonly doc?: string;
}

/** A struct or union layout of any value type. */
export type AnyLayout = Layout<unknown>;

/**
 * A computed C struct/union layout with a fast byte codec.
 *
 * `V` is the decoded value type (see `ValueOf`). All sizes and offsets are bytes.
 * `decode`/`encode` throw `RangeError` only on programming errors (a buffer
 * shorter than `size`); user-supplied sizes are checked by the size-rule
 * functions in `size-rules.ts`, which return `Errno` values.
 */
export class Layout<V> {
  /** `struct` or `union`. */
  readonly kind: "struct" | "union";
  /** C tag name, e.g. `"iommu_ioas_map"`. */
  readonly name: string;
  /** `sizeof` in bytes. */
  readonly size: number;
  /** `_Alignof` in bytes. */
  readonly align: number;
  /** Members in declaration order with offsets; anonymous-union members are flattened in. */
  readonly fields: readonly FieldInfo[];
  /** Source file and kernel version. */
  readonly source: string;
  /** Last mandatory member name. */
  readonly lastMandatory: string;
  /** Minimum size a caller may pass: `offsetofend(struct, lastMandatory)`. */
  readonly minSize: number;
  /** The flags member checked by the size rules, if any. */
  readonly flagsField: string | undefined;
  /** Defined bits of `flagsField`. */
  readonly knownFlags: number | undefined;
  /** Short description. */
  readonly doc: string | undefined;
  /** @internal precomputed codec plan. */
  readonly plan: CodecPlan;
  private readonly byName: ReadonlyMap<string, FieldInfo>;

  /** @internal use `defineStruct` / `defineUnion`. */
  constructor(
    kind: "struct" | "union",
    name: string,
    fields: readonly FieldInfo[],
    size: number,
    align: number,
    options: LayoutOptions,
  ) {
    this.kind = kind;
    this.name = name;
    this.fields = Object.freeze(fields.slice());
    this.size = size;
    this.align = align;
    this.source = options.source;
    this.byName = new Map(fields.map((f) => [f.name, f]));
    const last = options.lastMandatory ?? fields[fields.length - 1]?.name;
    if (last === undefined) throw new Error(`${name}: a layout needs at least one member`);
    const lastField = this.byName.get(last);
    if (lastField === undefined) throw new Error(`${name}: lastMandatory ${last} is not a member`);
    this.lastMandatory = last;
    this.minSize = lastField.offset + lastField.size;
    this.knownFlags = options.knownFlags;
    this.flagsField = options.flagsField ?? (options.knownFlags !== undefined ? "flags" : undefined);
    if (this.flagsField !== undefined && !this.byName.has(this.flagsField)) {
      throw new Error(`${name}: flags field ${this.flagsField} is not a member`);
    }
    this.doc = options.doc;
    this.reservedFields = Object.freeze(this.fields.filter((f) => f.reserved));
    const ff = this.flagsField === undefined ? undefined : this.byName.get(this.flagsField);
    this.flagsOffset = ff?.offset ?? 0;
    this.flagsSize = ff?.size ?? 0;
    this.plan = planOf(this.fields);
  }

  /** The member called `name`, or undefined. */
  field(name: string): FieldInfo | undefined {
    return this.byName.get(name);
  }

  /** `offsetof(struct, name)` in bytes. Throws if there is no such member. */
  offsetOf(name: string): number {
    const f = this.byName.get(name);
    if (f === undefined) throw new Error(`${this.name} has no member ${name}`);
    return f.offset;
  }

  /** `offsetofend(struct, name)` = offset + size, in bytes. Throws if there is no such member. */
  offsetOfEnd(name: string): number {
    const f = this.byName.get(name);
    if (f === undefined) throw new Error(`${this.name} has no member ${name}`);
    return f.offset + f.size;
  }

  /** The "must be 0" members, in order. */
  readonly reservedFields: readonly FieldInfo[];
  /** Byte offset and size of `flagsField` (size 0 when there is none). */
  readonly flagsOffset: number;
  readonly flagsSize: number;

  /**
   * Decode `size` bytes starting at `offset` of `bytes` into a fresh object.
   * 64-bit fields become bigint. Throws RangeError if fewer than `size` bytes remain.
   */
  decode(bytes: Uint8Array, offset = 0): V {
    if (offset < 0 || bytes.length - offset < this.size) {
      throw new RangeError(
        `${this.name}: need ${this.size} bytes at offset ${offset}, have ${bytes.length - offset}`,
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.plan.decode(view, bytes, offset) as V;
  }

  /** Decode from a DataView (no allocation of a view; for hot paths). */
  decodeView(view: DataView, offset = 0): V {
    if (offset < 0 || view.byteLength - offset < this.size) {
      throw new RangeError(`${this.name}: need ${this.size} bytes at offset ${offset}`);
    }
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    return this.plan.decode(view, bytes, offset) as V;
  }

  /**
   * Encode `value` into a new zero-filled `Uint8Array` of `size` bytes.
   * Missing members are written as zero; members of a union are written in
   * declaration order (later ones win where they overlap).
   */
  encode(value: EncodeInput<V>): Uint8Array {
    const out = new Uint8Array(this.size);
    this.plan.encode(new DataView(out.buffer), out, 0, value as Record<string, unknown>, this.name);
    return out;
  }

  /** Encode into `target` at `offset` (only the members present are written). Throws RangeError if it does not fit. */
  encodeInto(value: EncodeInput<V>, target: Uint8Array, offset = 0): void {
    if (offset < 0 || target.length - offset < this.size) {
      throw new RangeError(`${this.name}: need ${this.size} bytes at offset ${offset}`);
    }
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    this.plan.encode(view, target, offset, value as Record<string, unknown>, this.name);
  }

  /** The all-zero value (what `decode` of `size` zero bytes gives). */
  zero(): V {
    return this.decode(new Uint8Array(this.size));
  }

  /** `struct name` / `union name`. */
  toString(): string {
    return `${this.kind} ${this.name}`;
  }
}

/** A member: `field("iova", "u64")`, `field("idr", array("u32", 6))`, `field("range", iommuIovaRange)`. */
export function field<const N extends string, const T extends FieldType>(name: N, type: T): FieldSpec<N, T> {
  return { kind: "field", name, type, reserved: false };
}

/** A "must be 0" member (`__reserved`, `padding`): checked by the size rules. */
export function reserved<const N extends string, const T extends FieldType>(
  name: N,
  type: T,
): FieldSpec<N, T> {
  return { kind: "field", name, type, reserved: true };
}

/** A fixed-length array type: `array("u8", 3)` is `__u8 x[3]`. */
export function array<const E extends ScalarType | AnyLayout>(elem: E, length: number): ArrayType<E> {
  if (!Number.isInteger(length) || length <= 0)
    throw new RangeError(`array length must be a positive integer`);
  return { kind: "array", elem, length };
}

/** An anonymous union: `union { __u32 in_data_type; __u32 out_data_type; };`. */
export function union<const M extends readonly FieldSpec[]>(members: M): AnonUnionSpec<M> {
  return { kind: "anon-union", members };
}

function typeSizeAlign(t: FieldType): { size: number; align: number; text: string } {
  if (typeof t === "string") {
    const s = SCALAR_SIZE[t];
    return { size: s, align: s, text: t };
  }
  if (t instanceof Layout) return { size: t.size, align: t.align, text: `${t.kind} ${t.name}` };
  const e = typeSizeAlign(t.elem);
  return { size: e.size * t.length, align: e.align, text: `${e.text}[${t.length}]` };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function place(spec: FieldSpec, offset: number, inUnion: boolean): FieldInfo {
  const t = typeSizeAlign(spec.type);
  return {
    name: spec.name,
    offset,
    size: t.size,
    align: t.align,
    type: t.text,
    spec: spec.type,
    reserved: spec.reserved,
    inUnion,
  };
}

/**
 * Define a C struct. Offsets follow C natural alignment; the size is rounded
 * up to the struct's alignment. Member names must be unique.
 */
export function defineStruct<const F extends readonly MemberSpec[]>(
  name: string,
  members: F,
  options: LayoutOptions,
): Layout<StructValue<F>> {
  const fields: FieldInfo[] = [];
  let offset = 0;
  let align = 1;
  for (const m of members) {
    if (m.kind === "field") {
      const t = typeSizeAlign(m.type);
      offset = alignUp(offset, t.align);
      fields.push(place(m, offset, false));
      offset += t.size;
      align = Math.max(align, t.align);
    } else {
      let uSize = 0;
      let uAlign = 1;
      for (const u of m.members) {
        const t = typeSizeAlign(u.type);
        uSize = Math.max(uSize, t.size);
        uAlign = Math.max(uAlign, t.align);
      }
      uSize = alignUp(uSize, uAlign);
      offset = alignUp(offset, uAlign);
      for (const u of m.members) fields.push(place(u, offset, true));
      offset += uSize;
      align = Math.max(align, uAlign);
    }
  }
  checkUnique(name, fields);
  return new Layout<StructValue<F>>("struct", name, fields, alignUp(offset, align), align, options);
}

/** Define a named C union (all members at offset 0; size = largest member rounded to the alignment). */
export function defineUnion<const F extends readonly FieldSpec[]>(
  name: string,
  members: F,
  options: LayoutOptions,
): Layout<StructValue<F>> {
  let size = 0;
  let align = 1;
  const fields = members.map((m) => {
    const t = typeSizeAlign(m.type);
    size = Math.max(size, t.size);
    align = Math.max(align, t.align);
    return place(m, 0, true);
  });
  checkUnique(name, fields);
  return new Layout<StructValue<F>>("union", name, fields, alignUp(size, align), align, options);
}

function checkUnique(name: string, fields: readonly FieldInfo[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) throw new Error(`${name}: duplicate member ${f.name}`);
    seen.add(f.name);
  }
}

/** The decoded value type of a layout: `LayoutValue<typeof iommuIoasMap>`. */
export type LayoutValue<L> = L extends Layout<infer V> ? V : never;
