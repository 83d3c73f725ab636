/**
 * The record side of `readLog`: every line after the header, validated in
 * order (JSON, envelope, seq continuity, event-after-command, schema) and
 * turned into a `LogRecord` of the log's own shape.
 *
 * Two paths give the same records: the fast path (jsonl-fast.ts) reads the
 * canonical text `encodeRecord` writes straight from the chunk's text, and
 * anything it does not handle goes to the exact path — `JSON.parse`, the
 * envelope's checks and the compiled TypeBox check — which accepts the line
 * or names its first problem as `file:line: field: reason`.
 */
import { LogFormatError } from "./jsonl-error";
import { type Cursor, MISS, readInteger, stringEnd } from "./jsonl-fast";
import type { LineBlock } from "./jsonl-lines";
import type { LogRecord, Metadata, RecordKind } from "./message";
import { type Compiled, decodeWith, type Vocabulary } from "./vocabulary";

const NEWLINE = 0x0a;
const RBRACE = 0x7d;
/** How many type names `entry` remembers. */
const RECENT_TYPES = 8;

/** Reads the record lines of one log, in order; stateful (next seq, line number). */
export class RecordReader {
  /** The number of the last line read (line 1 is the header). */
  private line = 1;
  private expectedSeq = 1;
  private sawCommand = false;
  private readonly cursor: Cursor = { s: "", i: 0 };
  /** Vocabulary entries of recent type names (see `entry`), replaced round-robin. */
  private readonly recent: Compiled[] = [];
  private nextRecent = 0;

  constructor(
    private readonly file: string,
    private readonly vocabulary: Vocabulary,
  ) {}

  /**
   * Read every line of `block` into `out`. @returns the error of the first
   * bad line (the records before it are in `out`, none after), else undefined.
   * @throws only what is not a LogFormatError (a bug).
   */
  readBlock(block: LineBlock, out: LogRecord[]): LogFormatError | undefined {
    const { text, end } = block;
    let at = block.start;
    while (at < end) {
      this.line++;
      const r = this.fast(text, at, end);
      if (r !== undefined) {
        out.push(r);
        at = this.cursor.i;
        continue;
      }
      const nl = text.indexOf("\n", at);
      const lineEnd = nl < 0 || nl >= end ? end : nl;
      try {
        if (lineEnd === at) throw new LogFormatError(this.file, this.line, "record", "empty line");
        out.push(this.exact(text.slice(at, lineEnd), this.line));
      } catch (e) {
        if (e instanceof LogFormatError) return e;
        throw e;
      }
      at = lineEnd + 1;
    }
    return undefined;
  }

  /**
   * The vocabulary entry of the type name `text[from, to)`. A log cycles
   * through a few types, so the last 8 found are compared in place first,
   * sparing a string and a hash per line.
   */
  private entry(text: string, from: number, to: number): Compiled | undefined {
    const recent = this.recent;
    const length = to - from;
    for (let k = 0; k < recent.length; k++) {
      const c = recent[k]!;
      const name = c.def.type;
      if (name.length === length && text.startsWith(name, from)) return c;
    }
    const c = this.vocabulary.compiled(text.slice(from, to));
    if (c !== undefined) {
      if (recent.length < RECENT_TYPES) recent.push(c);
      else recent[this.nextRecent++ % RECENT_TYPES] = c;
    }
    return c;
  }

  /**
   * The fast path: the canonical line `{"seq":…,"type":"…","data":…}`, with
   * an optional `"metadata":{…}` last, starting at `at`, read in place into
   * a record; on success the cursor is past the line's "\n". `undefined`
   * leaves the line to `exact`. Changes no state unless it accepts.
   */
  private fast(text: string, at: number, end: number): LogRecord | undefined {
    const c = this.cursor;
    if (!text.startsWith('{"seq":', at)) return undefined;
    c.s = text;
    c.i = at + 7;
    if (readInteger(c) !== this.expectedSeq || !text.startsWith(',"type":', c.i)) return undefined;
    const typeEnd = stringEnd(text, c.i + 8);
    if (typeEnd < 0 || typeEnd >= end || !text.startsWith(',"data":', typeEnd + 1)) return undefined;
    const compiled = this.entry(text, c.i + 9, typeEnd);
    if (compiled === undefined || compiled.fast === null) return undefined;
    const kind = compiled.def.kind;
    if (kind === "event" && !this.sawCommand) return undefined;
    c.i = typeEnd + 9;
    const data = compiled.fast(c);
    if (data === MISS || c.i >= end) return undefined;
    let metadata: unknown;
    let next: number;
    if (text.charCodeAt(c.i) === RBRACE) {
      next = c.i + 1;
      if (next < end && text.charCodeAt(next) !== NEWLINE) return undefined;
    } else {
      // `,"metadata":M}`: M is free-form JSON, parsed as is; anything else is the exact path's.
      if (!text.startsWith(',"metadata":', c.i)) return undefined;
      const nl = text.indexOf("\n", c.i);
      next = nl < 0 || nl >= end ? end : nl;
      if (text.charCodeAt(next - 1) !== RBRACE) return undefined;
      try {
        metadata = JSON.parse(text.slice(c.i + 12, next - 1));
      } catch {
        return undefined;
      }
      if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return undefined;
    }
    c.i = next + 1;
    if (kind === "command") this.sawCommand = true;
    const seq = this.expectedSeq++;
    const type = compiled.def.type;
    return metadata === undefined
      ? { seq, kind, type, data }
      : { seq, kind, type, data, metadata: metadata as Metadata };
  }

  /** The exact path: JSON.parse, the envelope's checks, the compiled TypeBox check. */
  private exact(text: string, line: number): LogRecord {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new LogFormatError(this.file, line, "json", `not JSON (${(e as Error).message}); truncated?`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new LogFormatError(this.file, line, "record", "not an object");
    }
    const o = v as Record<string, unknown>;
    const seq = o.seq;
    const type = o.type;
    const data = o.data;
    const metadata = o.metadata;
    // Only seq/type/data/metadata may appear: compare counts (a for-in count
    // allocates nothing; Object.keys costs a third of JSON.parse here).
    let known = 0;
    if (seq !== undefined) known++;
    if (type !== undefined) known++;
    if (data !== undefined) known++;
    if (metadata !== undefined) known++;
    let members = 0;
    for (const _k in o) members++;
    if (members !== known) {
      const extra = Object.keys(o).find(
        (k) => k !== "seq" && k !== "type" && k !== "data" && k !== "metadata",
      );
      throw new LogFormatError(this.file, line, extra ?? "record", "unknown member");
    }
    if (seq !== this.expectedSeq) {
      throw new LogFormatError(
        this.file,
        line,
        "seq",
        `expected ${this.expectedSeq}, found ${JSON.stringify(seq)} (missing, duplicated or reordered record)`,
      );
    }
    if (typeof type !== "string")
      throw new LogFormatError(this.file, line, "type", "missing or not a string");
    if (data === undefined) throw new LogFormatError(this.file, line, "data", "missing");
    if (
      metadata !== undefined &&
      (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))
    ) {
      throw new LogFormatError(this.file, line, "metadata", "not an object");
    }
    const compiled = this.vocabulary.compiled(type);
    if (compiled === undefined)
      throw new LogFormatError(this.file, line, "type", `unknown message type '${type}'`);
    const kind: RecordKind = compiled.def.kind;
    const decoded = decodeWith(compiled, data);
    if (!decoded.ok) throw new LogFormatError(this.file, line, decoded.issue.field, decoded.issue.reason);
    if (kind === "event" && !this.sawCommand) {
      throw new LogFormatError(this.file, line, "type", `event '${type}' before any command`);
    }
    if (kind === "command") this.sawCommand = true;
    this.expectedSeq++;
    // A fresh record of the log's own shape (eventlog log.ts toRecord): the parsed
    // object dies young, retained records stay one compact object each, and
    // share the vocabulary's type string.
    const t = compiled.def.type;
    return metadata === undefined
      ? { seq, kind, type: t, data: decoded.data }
      : { seq, kind, type: t, data: decoded.data, metadata: metadata as Metadata };
  }
}
