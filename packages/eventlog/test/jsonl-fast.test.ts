/**
 * readLog's fast path (src/jsonl-fast.ts, src/jsonl-record.ts): golden values
 * of the schema-directed readers, and the property that matters — the fast
 * path is invisible: any text, canonical or not, reads to the same records
 * (values and member order) or the same error as the exact path alone
 * (JSON.parse + the TypeBox check).
 */
import { Bytes, command, event, ObjectId, U64, UInt, VOCABULARY } from "@iommu-sim/uapi";
import { type TSchema, Type } from "@sinclair/typebox";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeHeader,
  encodeRecord,
  LogFormatError,
  type LogRecord,
  readLog,
  Vocabulary,
} from "../src/index";
import { compileFastReader, MISS } from "../src/jsonl-fast";

const allKinds = Type.Object(
  {
    n: UInt(32),
    id: ObjectId(),
    neg: Type.Integer({ minimum: -1000, maximum: 1000 }),
    a: U64(),
    b: Bytes(),
    s: Type.String({ pattern: "^[a-z]*$", maxLength: 8 }),
    f: Type.Boolean(),
    lit: Type.Literal("x"),
    u: Type.Union([Type.Literal("on"), Type.Literal(3), Type.Literal(false)]),
    arr: Type.Array(U64(), { minItems: 1, maxItems: 4 }),
    opt: Type.Optional(Type.Object({ deep: Type.Array(Type.Object({ k: UInt(8) })) })),
  },
  { additionalProperties: false },
);

const defs = [
  command("t.all", allKinds, "every schema kind the fast path reads"),
  event("t.open", Type.Object({ x: UInt(8) }), "extra members allowed"),
  event("t.num", Type.Object({ x: Type.Number() }), "a kind the fast path leaves to the exact path"),
];

/** The same vocabulary with the fast readers removed: the exact path alone, the reference. */
function exactOnly(): Vocabulary {
  const v = new Vocabulary(defs);
  for (const d of defs) (v.compiled(d.type) as { fast: unknown }).fast = null;
  return v;
}

function read(c: { s: string; i: number }, schema: TSchema): unknown {
  const r = compileFastReader(schema);
  if (r === null) throw new Error("no fast reader");
  const v = r(c);
  return v === MISS ? MISS : { v, rest: c.s.slice(c.i) };
}

describe("fast readers", () => {
  it("read u64 text exactly, across 2^53 and up to 2^64 − 1", () => {
    const at = (s: string) => read({ s, i: 0 }, U64());
    expect(at('"0x0"')).toEqual({ v: 0n, rest: "" });
    expect(at('"0x1ffe",')).toEqual({ v: 8190n, rest: "," });
    expect(at('"0x20000000000001"')).toEqual({ v: 9007199254740993n, rest: "" });
    expect(at('"0xffffffffffffffff"')).toEqual({ v: 18446744073709551615n, rest: "" });
    for (const bad of ['"0x"', '"0xFF"', '"0x10000000000000000"', '"1"', '"0x1', "0x1"])
      expect(at(bad)).toBe(MISS);
  });

  it("read integers in range, and leave other spellings of a number to the exact path", () => {
    const at = (s: string) => read({ s, i: 0 }, Type.Integer({ minimum: -5, maximum: 4294967295 }));
    expect(at("0}")).toEqual({ v: 0, rest: "}" });
    expect(at("4294967295")).toEqual({ v: 4294967295, rest: "" });
    expect(at("-5,")).toEqual({ v: -5, rest: "," });
    for (const other of ["4294967296", "-6", "-0", "01", "1.0", "1e3", "1E3", "+1", " 1", "x"]) {
      expect(at(other)).toBe(MISS);
    }
  });

  it("read base64 bytes, strings, literals, unions and arrays", () => {
    expect(read({ s: '"AQIDBAU="', i: 0 }, Bytes())).toEqual({
      v: Uint8Array.from([1, 2, 3, 4, 5]),
      rest: "",
    });
    expect(read({ s: '""', i: 0 }, Bytes())).toEqual({ v: new Uint8Array(0), rest: "" });
    expect(read({ s: '"AQI"', i: 0 }, Bytes())).toBe(MISS); // not a multiple of 4: atob's and the exact path's call
    expect(read({ s: '"abc"', i: 0 }, Type.String({ pattern: "^[a-z]+$" }))).toEqual({ v: "abc", rest: "" });
    expect(read({ s: '"ab1"', i: 0 }, Type.String({ pattern: "^[a-z]+$" }))).toBe(MISS);
    expect(read({ s: '"a\\u0062"', i: 0 }, Type.String())).toBe(MISS); // escapes: exact path
    const u = Type.Union([Type.Literal("on"), Type.Literal(3), Type.Literal(false)]);
    expect(read({ s: "3]", i: 0 }, u)).toEqual({ v: 3, rest: "]" });
    expect(read({ s: "false", i: 0 }, u)).toEqual({ v: false, rest: "" });
    expect(read({ s: '"off"', i: 0 }, u)).toBe(MISS);
    const arr = Type.Array(UInt(8), { maxItems: 2 });
    expect(read({ s: "[]", i: 0 }, arr)).toEqual({ v: [], rest: "" });
    expect(read({ s: "[1,255]", i: 0 }, arr)).toEqual({ v: [1, 255], rest: "" });
    expect(read({ s: "[1,2,3]", i: 0 }, arr)).toBe(MISS);
    expect(read({ s: "[1,]", i: 0 }, arr)).toBe(MISS);
  });

  it("read objects in any member order, keeping the text's order, and miss repeated or unknown members", () => {
    const o = Type.Object({ a: UInt(8), b: Type.Optional(UInt(8)) });
    const ba = read({ s: '{"b":2,"a":1}', i: 0 }, o) as { v: object };
    expect(ba.v).toEqual({ a: 1, b: 2 });
    expect(Object.keys(ba.v)).toEqual(["b", "a"]);
    expect(read({ s: '{"a":1}', i: 0 }, o)).toEqual({ v: { a: 1 }, rest: "" });
    expect(read({ s: '{"b":1}', i: 0 }, o)).toBe(MISS); // a is required
    expect(read({ s: '{"a":1,"a":2}', i: 0 }, o)).toBe(MISS);
    expect(read({ s: '{"a":1,"c":2}', i: 0 }, o)).toBe(MISS);
    expect(read({ s: '{"a": 1}', i: 0 }, o)).toBe(MISS);
  });

  it("compile for every message of the project's vocabulary, and not for kinds or keywords they do not mirror", () => {
    const v = new Vocabulary(VOCABULARY);
    expect(VOCABULARY.filter((d) => v.compiled(d.type)?.fast === null).map((d) => d.type)).toEqual([]);
    for (const s of [
      Type.Number(),
      Type.Null(),
      Type.Integer({ exclusiveMinimum: 0 }),
      Type.String({ format: "date" }),
      Type.Union([Type.Object({}), Type.Literal(1)]),
      Type.Array(UInt(8), { uniqueItems: true }),
      Type.Object({}, { additionalProperties: UInt(8) }),
      Type.Object({ ["__proto__"]: UInt(8) }),
    ]) {
      expect(compileFastReader(s)).toBeNull();
    }
  });
});

/** Records or the error message, as text that keeps member order and tells bigint from number. */
async function outcome(text: string, vocabulary: Vocabulary, chunk = 1 << 20): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const src = (async function* () {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  })();
  const records: LogRecord[] = [];
  let error = "";
  try {
    const opened = await readLog(src, { vocabulary, file: "p.jsonl" });
    for await (const b of opened.batches) records.push(...b);
  } catch (e) {
    if (!(e instanceof LogFormatError)) throw e;
    error = e.message;
  }
  const show = (_k: string, v: unknown) =>
    typeof v === "bigint"
      ? `${v}n`
      : v instanceof Uint8Array
        ? `bytes:${[...v].join(",")}`
        : Object.is(v, -0)
          ? "-0"
          : v;
  return `${JSON.stringify(records, show)}\n${error}`;
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const allData = fc.record(
  {
    n: fc.nat({ max: 2 ** 32 - 1 }),
    id: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    neg: fc.integer({ min: -1000, max: 1000 }),
    a: u64,
    b: fc.uint8Array({ maxLength: 7 }),
    s: fc.stringMatching(/^[a-z]{0,8}$/),
    f: fc.boolean(),
    lit: fc.constant("x"),
    u: fc.constantFrom("on", 3, false),
    arr: fc.array(u64, { minLength: 1, maxLength: 4 }),
    opt: fc.record({ deep: fc.array(fc.record({ k: fc.nat({ max: 255 }) }), { maxLength: 2 }) }),
  },
  { requiredKeys: ["n", "id", "neg", "a", "b", "s", "f", "lit", "u", "arr"] },
);

/** Text edits that make a line another spelling of the same JSON, invalid JSON, or a schema failure. */
const edits: ((line: string, k: number) => string)[] = [
  (l) => l,
  (l, k) => l.replace(/([:,])/g, (m, _c, at: number) => (at % 7 === k % 7 ? `${m} ` : m)),
  (l) => l.replace(/"0x([0-9a-f]+)"/, (_m, h: string) => `"0x${h.toUpperCase()}"`),
  (l) => l.replace(/"0x([0-9a-f]+)"/, '"0x0$1"'),
  (l) => l.replace(/"n":(\d+)/, '"n":$1.0'),
  (l) => l.replace(/"n":(\d+)/, '"n":$1e0'),
  (l) => l.replace(/"neg":(-?\d+)/, '"neg":-0'),
  (l) => l.replace(/"n":(\d+)/, '"n":0$1'),
  (l) => l.replace(/"lit":"x"/, '"lit":"\\u0078"'),
  (l) => l.replace(/"s":"/, '"s":"\\u0061'),
  (l) => l.replace(/}}$/, ',"n":5}}'),
  (l) => l.replace(/}}$/, ',"zz":1}}'),
  (l) => l.replace(/"f":(true|false),/, ""),
  (l) => l.replace(/}$/, ',"metadata":{"who":"é€𝄞"}}'),
  (l) => l.replace(/}$/, ',"metadata":[1]}'),
  (l) => l.replace(/}$/, ',"metadata":null}'),
  (l) => l.replace(/}$/, ',"metadata":{"x":1} }'),
  (l) => l.replace(/"seq":(\d+)/, '"seq":$1,"seq":$1'),
  (l) => l.replace(/^\{"seq":(\d+),"type":("[^"]+"),/, '{"type":$2,"seq":$1,'),
  (l, k) => l.slice(0, k % l.length) + l.slice((k % l.length) + 1),
  (l, k) => `${l.slice(0, k % l.length)}"${l.slice(k % l.length)}`,
  (l) => `${l}\r`,
  () => "",
];

describe("fast path", () => {
  it("is invisible: every text reads to the same records, member order or error as the exact path alone", async () => {
    const fast = new Vocabulary(defs);
    const exact = exactOnly();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            data: allData,
            events: fc.array(fc.oneof(fc.nat({ max: 255 }), fc.integer({ min: 256, max: 300 })), {
              maxLength: 3,
            }),
            edit: fc.nat({ max: edits.length - 1 }),
            k: fc.nat({ max: 1000 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.integer({ min: 1, max: 64 }),
        async (commands, chunk) => {
          const lines = [encodeHeader()];
          let seq = 0;
          for (const c of commands) {
            const line = encodeRecord({ seq: ++seq, kind: "command", type: "t.all", data: c.data });
            lines.push(edits[c.edit]!(line, c.k));
            for (const x of c.events)
              lines.push(encodeRecord({ seq: ++seq, kind: "event", type: "t.open", data: { x } }));
          }
          const text = `${lines.join("\n")}\n`;
          const want = await outcome(text, exact);
          expect(await outcome(text, fast)).toBe(want);
          expect(await outcome(text, fast, chunk)).toBe(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads canonical lines itself, with the exact path's result", async () => {
    const fast = new Vocabulary(defs);
    const data = {
      n: 7,
      id: 1,
      neg: -3,
      a: 0x1000n,
      b: Uint8Array.of(9),
      s: "ab",
      f: true,
      lit: "x",
      u: "on",
      arr: [1n, 0xffff_ffff_ffff_ffffn],
      opt: { deep: [{ k: 255 }] },
    };
    const line = encodeRecord({ seq: 1, kind: "command", type: "t.all", data });
    const text = `${encodeHeader()}\n${line}\n`;
    expect(await outcome(text, fast)).toBe(await outcome(text, exactOnly()));
    // The fast reader itself accepts the canonical data (else the property above says nothing about it).
    const c = { s: line, i: line.indexOf('"data":') + 7 };
    expect(fast.compiled("t.all")!.fast!(c)).toEqual(data);
    expect(line.slice(c.i)).toBe("}");
  });

  it("leaves types outside its subset to the exact path", async () => {
    const text = `${encodeHeader()}\n${encodeRecord({ seq: 1, kind: "command", type: "t.all", data: { n: 1, id: 1, neg: 0, a: 0n, b: new Uint8Array(0), s: "", f: false, lit: "x", u: 3, arr: [2n] } })}\n{"seq":2,"type":"t.num","data":{"x":1.5}}\n{"seq":3,"type":"t.num","data":{"x":"1"}}\n`;
    expect(new Vocabulary(defs).compiled("t.num")!.fast).toBeNull();
    expect((await outcome(text, new Vocabulary(defs))).split("\n")[1]).toMatch(/^p\.jsonl:4: data\.x: /);
  });
});
