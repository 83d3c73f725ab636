/**
 * `--log FILE`: the session's records as JSON Lines (eventlog's
 * encodeHeader/encodeRecord), a header first, then each committed command
 * and its events as they commit. Lines are buffered and flushed at the end
 * of the current turn of the event loop (and at close), so a burst of
 * ioctls costs one write.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { encodeHeader, encodeRecord } from "@iommu-sim/eventlog";
import { UsageError } from "./errors";
import type { ModelEventLog } from "./model";

/** A log file being written. */
export interface LogRecorder {
  /** Write what is buffered and close the file. */
  close(): void;
}

/**
 * Record `log` into `path` (created or truncated). `header` goes into line 1
 * beside `kind`/`version` (the platform, the tool).
 * @throws UsageError naming the file when it cannot be opened.
 */
export function recordLog(log: ModelEventLog, path: string, header: Record<string, unknown>): LogRecorder {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (e) {
    throw new UsageError(
      `${path}: cannot write the log: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  writeSync(fd, `${encodeHeader(header)}\n`);
  // Records committed before recording began (the platform's IOMMU units) come first.
  if (log.records.length > 0) writeSync(fd, `${log.records.map((r) => encodeRecord(r)).join("\n")}\n`);
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0 || fd < 0) return;
    const text = `${pending.join("\n")}\n`;
    pending = [];
    writeSync(fd, text);
  };
  const sub = log.commands$.subscribe(({ command, events }) => {
    pending.push(encodeRecord(command));
    for (const e of events) pending.push(encodeRecord(e));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  return {
    close() {
      sub.unsubscribe();
      flush();
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}
