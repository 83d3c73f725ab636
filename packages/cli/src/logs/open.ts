/**
 * Opening a log file for replay, rerun and inspect: JSON Lines (plain or
 * gzip) validated line by line against the full vocabulary (VOCABULARY of
 * @iommu-sim/uapi), with the platform from the header (validated too).
 * Errors are `FILE:LINE: field: reason` (eventlog's LogFormatError).
 */
import { createReadStream, statSync } from "node:fs";
import {
  LogFormatError,
  type LogHeader,
  type LogRecord,
  type Message,
  readLog,
  Vocabulary,
} from "@iommu-sim/eventlog";
import { DEFAULT_PLATFORM, type Platform, parsePlatform } from "@iommu-sim/iommufd";
import { VOCABULARY } from "@iommu-sim/uapi";
import { UsageError } from "../errors";

let vocabulary: Vocabulary | undefined;

/** An opened log file. */
export interface LogFile {
  readonly file: string;
  readonly header: LogHeader;
  /** The header's platform, or DEFAULT_PLATFORM when it names none. */
  readonly platform: Platform;
  /** Size of the file in bytes (for progress). */
  readonly size: number;
  /** Bytes read so far (grows as `batches` is iterated). */
  bytesRead(): number;
  /** Validated records, in batches. @throws LogFormatError at the first bad line. */
  readonly batches: AsyncIterable<LogRecord<Message>[]>;
}

/**
 * Open `file`.
 * @throws UsageError if it cannot be read; LogFormatError for a bad header or platform.
 */
export async function openLogFile(file: string): Promise<LogFile> {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UsageError(`${file}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let read = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  vocabulary ??= new Vocabulary(VOCABULARY);
  const opened = await readLog<Message>(counted(), { vocabulary, file });
  let platform = DEFAULT_PLATFORM;
  if (opened.header.platform !== undefined) {
    const p = parsePlatform(opened.header.platform);
    if ("reason" in p) throw new LogFormatError(file, 1, `platform.${p.field}`, p.reason);
    platform = p;
  }
  return { file, header: opened.header, platform, size, bytesRead: () => read, batches: opened.batches };
}
