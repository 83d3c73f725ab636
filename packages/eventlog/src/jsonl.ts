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
 * `file:line: field: reason`; nothing after that line is yielded. Bytes
 * become blocks of whole lines in jsonl-lines.ts; jsonl-record.ts reads the
 * records, canonical lines through the schema-directed fast path of
 * jsonl-fast.ts and any other text through `JSON.parse` and TypeBox.
 *
 * Browser-safe: sources are byte streams (a `File.stream()`, a fetch body, or
 * Node's `fs.createReadStream`), gzip is undone with `DecompressionStream`.
 */
import { LogFormatError } from "./jsonl-error";
import { type ByteSource, type LineBlock, lineBlocks } from "./jsonl-lines";
import { RecordReader } from "./jsonl-record";
import type { LogRecord, Message } from "./message";
import { bytesToBase64, type Vocabulary } from "./vocabulary";

export { LogFormatError } from "./jsonl-error";
export type { ByteSource } from "./jsonl-lines";

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

/**
 * Open a log: reads and checks the header, then validates records lazily as
 * `batches` is iterated, one batch per block of whole lines (about one per
 * chunk the source yields; pass ≥ 1 MiB chunks for speed). `M` is the
 * message union the vocabulary describes (the caller vouches for it; every
 * record is checked against the vocabulary).
 * @throws LogFormatError (from the header or from the iteration) at the
 *   first bad line, after yielding every valid record before it.
 */
export async function readLog<M extends Message = Message>(
  source: ByteSource,
  options: ReadLogOptions,
): Promise<OpenedLog<M>> {
  const file = options.file ?? "<log>";
  const it = lineBlocks(source)[Symbol.asyncIterator]();
  const first = await it.next();
  let rest: LineBlock[] = [];
  let headerText: string | undefined;
  if (!first.done) {
    const [{ text, start, end }, ...others] = first.value as [LineBlock, ...LineBlock[]];
    const nl = text.indexOf("\n", start);
    const headerEnd = nl < 0 || nl >= end ? end : nl;
    headerText = text.slice(start, headerEnd);
    rest = headerEnd + 1 < end ? [{ text, start: headerEnd + 1, end }, ...others] : others;
  }
  const header = checkHeader(file, headerText);
  const reader = new RecordReader(file, options.vocabulary);
  async function* batches(): AsyncGenerator<LogRecord<M>[]> {
    // A batch per chunk read. Every valid record before a bad line is yielded, then the error is thrown.
    for (let blocks = rest; ; ) {
      const records: LogRecord[] = [];
      let error: LogFormatError | undefined;
      for (const b of blocks) {
        error = reader.readBlock(b, records);
        if (error !== undefined) break;
      }
      if (records.length > 0) yield records as LogRecord<M>[];
      if (error !== undefined) throw error;
      const r = await it.next();
      if (r.done) return;
      blocks = r.value;
    }
  }
  return { header, batches: batches() };
}

/** Bytes of a string, as one chunk (for tests and in-memory logs). */
export async function* textSource(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}
