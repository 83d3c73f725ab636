/**
 * `iommu-sim rerun LOG`: re-decide every logged command with the current
 * code, in order, against a fresh model of the log's platform, and compare
 * what it decides now with what was logged: the first command that now
 * fails, or emits different events (type or data, compared canonically),
 * is the divergence, reported with its sequence number.
 */
import { canonicalEqual, type LogRecord, type Message, stateHash } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import { createModel } from "../model";
import { openLogFile } from "./open";
import { progressBar } from "./progress";

/** The first place where the current code decides differently from the log. */
export interface Divergence {
  /** Seq of the command record. */
  readonly seq: number;
  readonly command: string;
  /** Seq of the first differing event record (or of the command when it now fails). */
  readonly at: number;
  readonly logged: readonly { type: string; data: unknown }[];
  /** The events decided now, or the errno it now fails with. */
  readonly now: readonly { type: string; data: unknown }[] | string;
}

/** What rerun reports. */
export interface RerunResult {
  readonly file: string;
  readonly commands: number;
  readonly divergence?: Divergence;
  /** Hash of the state reached (up to the divergence, if any). */
  readonly hash: string;
}

const strip = (r: { type: string; data: unknown }) => ({ type: r.type, data: r.data });

/** Re-decide `file`'s commands; stops at the first divergence. */
export async function rerunLog(file: string): Promise<RerunResult> {
  const opened = await openLogFile(file);
  const { log } = createModel(opened.platform, { empty: true });
  const progress = progressBar(`rerun ${file}`, opened.size);
  let commands = 0;
  let pending: LogRecord<Message> | undefined;
  let events: LogRecord<Message>[] = [];

  const check = (): Divergence | undefined => {
    if (pending === undefined) return undefined;
    commands++;
    const cmd = pending;
    const command: Message =
      cmd.metadata === undefined
        ? { type: cmd.type, data: cmd.data }
        : { type: cmd.type, data: cmd.data, metadata: cmd.metadata };
    const now = log.dispatch(command);
    const logged = events.map(strip);
    if (isErrno(now)) return { seq: cmd.seq, command: cmd.type, at: cmd.seq, logged, now: now.toString() };
    const decided = now.map(strip);
    for (let i = 0; i < Math.max(decided.length, logged.length); i++) {
      const a = decided[i];
      const b = logged[i];
      if (a === undefined || b === undefined || !canonicalEqual(a, b)) {
        return { seq: cmd.seq, command: cmd.type, at: cmd.seq + 1 + i, logged, now: decided };
      }
    }
    return undefined;
  };

  try {
    for await (const batch of opened.batches) {
      for (const r of batch) {
        if (r.kind === "event") {
          events.push(r);
          continue;
        }
        const d = check();
        if (d !== undefined) return { file, commands, divergence: d, hash: stateHash(log.state) };
        pending = r;
        events = [];
      }
      progress.update(opened.bytesRead(), commands);
    }
    const d = check();
    return d === undefined
      ? { file, commands, hash: stateHash(log.state) }
      : { file, commands, divergence: d, hash: stateHash(log.state) };
  } finally {
    progress.end();
  }
}
