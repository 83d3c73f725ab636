/**
 * The log on disk: JSON Lines, optionally gzip.
 *
 * Line 1 is the header `{"kind":"iommu-sim/log","version":1, ...extra}`;
 * every further line is one record `{"seq":n,"type":"…","data":{…},"metadata":{…}}`
 * with u64 fields as `"0x…"` and byte strings as base64. Whether a record is
 * a command or an event follows from its type in the vocabulary.
 *
 * Reading validates every line (JSON, envelope, seq continuity, schema) and
 * stops at the first bad one with a `LogFormatError` whose message is
 * `file:line: field: reason`; nothing after that line is yielded.
 *
 * Browser-safe: sources are byte streams (a `File.stream()`, a fetch body, or
 * Node's `fs.createReadStream`), gzip is undone with `DecompressionStream`.
 */
import type { LogRecord, Message, Metadata, RecordKind } from "./message";
import { bytesToBase64, decodeWith, type Vocabulary } from "./vocabulary";

/** The header's `kind`. */
export const LOG_KIND = "iommu-sim/log";
/** The format version this code writes and reads. */
export const LOG_VERSION = 1;

/** Line 1 of a log file. Extra members (platform, tool version…) are kept as they are. */
export interface LogHeader {
  readonly kind: typeof LOG_KIND;
  readonly version: number;
  readonly [extra: string]: unknown;
}

/** A log file that failed validation: `file:line: field: reason`. */
export class LogFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${field}: ${reason}`);
    this.name = "LogFormatError";
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") {
    if (value < 0n) throw new RangeError(`negative bigint ${value} cannot be logged`);
    return `0x${value.toString(16)}`;
  }
  if (value instanceof Uint8Array) return bytesToBase64(value);
  return value;
}

/** The header line (no newline). */
export function encodeHeader(extra: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify({ ...extra, kind: LOG_KIND, version: LOG_VERSION });
}

/** One record as a line (no newline). */
export function encodeRecord(r: LogRecord): string {
  const o =
    r.metadata === undefined
      ? { seq: r.seq, type: r.type, data: r.data }
      : { seq: r.seq, type: r.type, data: r.data, metadata: r.metadata };
  return JSON.stringify(o, replacer);
}

/** A whole log as text: header, then one line per record, each ending in "\n". */
export function encodeLog(records: Iterable<LogRecord>, extra?: Readonly<Record<string, unknown>>): string {
  const lines = [encodeHeader(extra)];
  for (const r of records) lines.push(encodeRecord(r));
  return `${lines.join("\n")}\n`;
}

/** Bytes to read a log from. */
export type ByteSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

function toStream(src: ByteSource): ReadableStream<Uint8Array> {
  if (src instanceof ReadableStream) return src;
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

async function* gunzipIfNeeded(src: ByteSource): AsyncGenerator<Uint8Array> {
  const reader = toStream(src).getReader();
  const first = await reader.read();
  if (first.done) return;
  const head = first.value;
  let stream: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(head);
    },
    async pull(c) {
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  if (head[0] === 0x1f && head[1] === 0x8b) {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  const r = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      yield value;
    }
  } finally {
    r.releaseLock();
  }
}

/** Split a byte stream into lines (without "\n"), numbered from 1. Yields batches. */
async function* lines(src: ByteSource): AsyncGenerator<string[]> {
  const decoder = new TextDecoder("utf-8");
  let rest = "";
  for await (const chunk of gunzipIfNeeded(src)) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    rest = parts.pop()!;
    if (parts.length > 0) yield parts;
  }
  rest += decoder.decode();
  if (rest.length > 0) yield [rest];
}

/** Options of `readLog`. */
export interface ReadLogOptions {
  /** The vocabulary records are validated against. */
  readonly vocabulary: Vocabulary;
  /** Name used in error messages (default `"<log>"`). */
  readonly file?: string;
}

/** An opened log: its header, and its records in batches. */
export interface OpenedLog<M extends Message = Message> {
  readonly header: LogHeader;
  readonly batches: AsyncIterable<LogRecord<M>[]>;
}

function checkHeader(file: string, text: string | undefined): LogHeader {
  if (text === undefined) throw new LogFormatError(file, 1, "header", "empty file");
  let h: unknown;
  try {
    h = JSON.parse(text);
  } catch (e) {
    throw new LogFormatError(file, 1, "header", `not JSON (${(e as Error).message})`);
  }
  if (typeof h !== "object" || h === null || Array.isArray(h))
    throw new LogFormatError(file, 1, "header", "not an object");
  const o = h as Record<string, unknown>;
  if (o.kind !== LOG_KIND) throw new LogFormatError(file, 1, "kind", `expected "${LOG_KIND}"`);
  if (o.version !== LOG_VERSION) {
    throw new LogFormatError(
      file,
      1,
      "version",
      `unsupported version ${JSON.stringify(o.version)} (reads ${LOG_VERSION})`,
    );
  }
  return o as LogHeader;
}

/** Validates records line by line; see `readLog`. */
class RecordParser {
  private expectedSeq = 1;
  private sawCommand = false;

  constructor(
    private readonly file: string,
    private readonly vocabulary: Vocabulary,
  ) {}

  parse(text: string, line: number): LogRecord {
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
    // object dies young, and retained records stay one compact object each.
    return metadata === undefined
      ? { seq, kind, type, data: decoded.data }
      : { seq, kind, type, data: decoded.data, metadata: metadata as Metadata };
  }
}
/**
 * Open a log: reads and checks the header, then validates records lazily as
 * `batches` is iterated. `M` is the message union the vocabulary describes
 * (the caller vouches for it; every record is checked against the vocabulary). @throws LogFormatError (from the header or from the
 * iteration) at the first bad line.
 */
export async function readLog<M extends Message = Message>(
  source: ByteSource,
  options: ReadLogOptions,
): Promise<OpenedLog<M>> {
  const file = options.file ?? "<log>";
  const it = lines(source)[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  const firstBatch = first.done ? [] : first.value;
  const header = checkHeader(file, firstBatch[0]);
  const parser = new RecordParser(file, options.vocabulary);
  async function* batches(): AsyncGenerator<LogRecord<M>[]> {
    let line = 1;
    /** Parse a batch; on a bad line, the records before it and the error. */
    const parseBatch = (
      texts: string[],
      skip: number,
    ): { records: LogRecord<M>[]; error?: LogFormatError } => {
      const records: LogRecord<M>[] = [];
      for (let i = skip; i < texts.length; i++) {
        line++;
        const t = texts[i]!;
        try {
          if (t.length === 0) throw new LogFormatError(file, line, "record", "empty line");
          records.push(parser.parse(t, line) as LogRecord<M>);
        } catch (e) {
          if (e instanceof LogFormatError) return { records, error: e };
          throw e;
        }
      }
      return { records };
    };
    // Every valid record before a bad line is yielded, then the error is thrown.
    let b = parseBatch(firstBatch, 1);
    for (;;) {
      if (b.records.length > 0) yield b.records;
      if (b.error !== undefined) throw b.error;
      const r = await it.next();
      if (r.done) return;
      b = parseBatch(r.value, 0);
    }
  }
  return { header, batches: batches() };
}

/** Bytes of a string, as one chunk (for tests and in-memory logs). */
export async function* textSource(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}
