/**
 * The layout engine: declarative C struct/union layouts with a byte codec.
 * See `struct.ts` for the model and `codec.ts` for the encoder/decoder.
 */
export {
  type AnonUnionSpec,
  type AnyLayout,
  type ArrayType,
  array,
  defineStruct,
  defineUnion,
  type EncodeInput,
  type FieldInfo,
  type FieldSpec,
  type FieldType,
  field,
  Layout,
  type LayoutOptions,
  type LayoutValue,
  type MemberSpec,
  reserved,
  SCALAR_SIZE,
  type ScalarType,
  type ScalarValue,
  type StructValue,
  union,
  type ValueOf,
} from "./struct";
