/**
 * Loading a log into the viewer: read and validate JSON Lines (plain or
 * gzip) with the system's vocabulary, and append every record to an
 * `EventLog` over the viewer's root decider, which keeps periodic
 * snapshots so `stateAt(seq)` is cheap anywhere in the log. Browser-safe.
 */
import {
  type ByteSource,
  createLog,
  type EventLog,
  type LogHeader,
  type Message,
  readLog,
  Vocabulary,
} from "@iommu-sim/eventlog";
import { VOCABULARY } from "@iommu-sim/uapi";
import type { ViewerDecider, ViewerRoot } from "./system";

/**
 * A snapshot every this many records: `stateAt` evolves at most this many
 * records on top of the nearest snapshot, so moving the slider stays
 * interactive on long logs (snapshots share structure, so each is cheap;
 * but each seals the epoch, and a snapshot every 16 records makes loading
 * 2–3× slower — the viewer's finer checkpoints are taken only where the
 * slider goes, checkpoints.ts).
 */
export const VIEWER_SNAPSHOT_EVERY = 256;

/** A log loaded into the viewer. */
export interface LoadedLog {
  /** Where it came from (file name or URL), for people. */
  readonly name: string;
  /** Line 1 of the file; undefined when the header itself was bad. */
  readonly header: LogHeader | undefined;
  /** Every record read, replayed (evolve only) on the viewer's root decider. */
  readonly log: EventLog<Message, Message, ViewerRoot>;
  /**
   * The reader's `file:line: field: reason` when the file stopped at a bad
   * line. Nothing from that line on is loaded; before it, the records of
   * the batches the reader had already yielded are (readLog validates a
   * chunk's lines as one batch, so the kept prefix can end a few lines
   * early; a cut last line, having no newline, is always a batch of its own).
   */
  readonly error?: string;
}

let sharedVocabulary: Vocabulary | undefined;
/** The system vocabulary, compiled once (compiling the checkers is the costly part). */
function vocabulary(): Vocabulary {
  sharedVocabulary ??= new Vocabulary(VOCABULARY);
  return sharedVocabulary;
}

/** Options of `loadLog`. */
export interface LoadOptions {
  /**
   * Called with the number of records loaded so far, after a batch once
   * `progressEveryMs` have passed since the last call; the loader then
   * yields to the event loop once, so a page can repaint during a long load.
   */
  readonly onProgress?: (records: number) => void;
  /** Milliseconds of loading between two progress reports (default PROGRESS_MS; 0: after every batch). */
  readonly progressEveryMs?: number;
}

/** Default milliseconds between two progress reports: often enough to look alive, rare enough to cost nothing. */
export const PROGRESS_MS = 100;

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Read `source` as a log named `name` and replay it on `decider` (evolve
 * only: commands are not decided again).
 * Never rejects for a bad file: a format error (see `LoadedLog.error`) ends
 * the load and is reported, never skipped.
 */
export async function loadLog(
  source: ByteSource,
  name: string,
  decider: ViewerDecider,
  options: LoadOptions = {},
): Promise<LoadedLog> {
  const log = createLog(decider, { snapshotEvery: VIEWER_SNAPSHOT_EVERY });
  const { onProgress, progressEveryMs = PROGRESS_MS } = options;
  let header: LogHeader | undefined;
  try {
    const opened = await readLog(source, { vocabulary: vocabulary(), file: name });
    header = opened.header;
    let reported = performance.now();
    for await (const batch of opened.batches) {
      log.append(batch);
      if (onProgress !== undefined && performance.now() - reported >= progressEveryMs) {
        onProgress(log.seq);
        await nextTask();
        reported = performance.now();
      }
    }
  } catch (e) {
    return { name, header, log, error: e instanceof Error ? e.message : String(e) };
  }
  return { name, header, log };
}

/**
 * Fetch `url` and load it (see `loadLog`). An HTTP error or a network
 * failure is reported in `error` with an empty log.
 */
export async function fetchLog(
  url: string,
  decider: ViewerDecider,
  options: LoadOptions = {},
): Promise<LoadedLog> {
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (e) {
    return { name: url, header: undefined, log: createLog(decider), error: `${url}: ${String(e)}` };
  }
  if (!response.ok || response.body === null) {
    const error = `${url}: HTTP ${response.status} ${response.statusText}`;
    return { name: url, header: undefined, log: createLog(decider), error };
  }
  return loadLog(response.body, url, decider, options);
}
