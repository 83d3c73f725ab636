/**
 * The append-only log: dispatch, RxJS streams, snapshots, replay, stateAt
 * and fault injection around one root decider.
 */
import { type Errno, type ErrnoName, isErrno } from "@iommu-sim/uapi";
import { type Observable, Subject } from "rxjs";
import type { Decider } from "./decider";
import { sealEpoch } from "./epoch";
import { NO_FAULTS, StepCounter } from "./fault";
import type { LogRecord, Message } from "./message";

/**
 * The state at a sequence number. Immutable: taken by sealing the epoch, so
 * later commands never change it. `seq` = the last record applied (0 = the
 * initial state).
 */
export interface Snapshot<S> {
  readonly seq: number;
  readonly state: S;
}

/** What one committed command produced, as `events$`/`commands$` emit it. */
export interface Commit<C extends Message, E extends Message> {
  readonly command: LogRecord<C>;
  readonly events: readonly LogRecord<E>[];
}

/** Options of `createLog`. */
export interface LogOptions {
  /**
   * Keep a snapshot every this many records (for `stateAt`). Default 4096.
   * Each costs O(1) to take; it keeps older bulk nodes alive, so memory grows
   * with the number of distinct pages written between snapshots.
   */
  readonly snapshotEvery?: number;
  /**
   * Keep about this many of the most recent records in memory (at least
   * this many, at most twice as many), and the snapshots they start from;
   * older records and snapshots are let go, so `records` begins later and
   * `stateAt` reaches back only to the oldest snapshot kept. For a
   * long-running log whose records are streamed elsewhere (a daemon's
   * `--log` file), whose memory would otherwise grow with every command.
   * Default: keep everything.
   */
  readonly retain?: number;
}

/** The fault-injection state of the last dispatched command. */
export interface StepReport {
  /** Fallible steps the command reached, in order. */
  readonly sites: readonly string[];
  /** Whether the armed step was reached and failed. */
  readonly fired: boolean;
}

/**
 * An event-sourced log over a decider.
 *
 * `dispatch` decides a command against the current state; on success it
 * appends the command record and all its event records (all or nothing),
 * evolves the state and emits once on each stream; on failure it returns the
 * `Errno` and changes nothing — no record, no state, no counter.
 *
 * Re-entrancy: a command dispatched by a subscriber is decided and committed
 * at once (the caller gets its result), and its emissions are queued behind
 * the current one, so every subscriber sees commits in commit order (FIFO).
 */
export class EventLog<C extends Message, E extends Message, S> {
  private current: S;
  /** Seq of the record before the first kept one (non-zero after restoring a foreign snapshot or replaying from one). */
  private base = 0;
  private readonly log: LogRecord<C | E>[] = [];
  private readonly snapshots: Snapshot<S>[] = [];
  private readonly snapshotEvery: number;
  /** `retain` (Infinity: keep everything); the log is trimmed when it holds twice as many records. */
  private readonly retain: number;
  private readonly eventsSubject = new Subject<readonly LogRecord<E>[]>();
  private readonly stateSubject = new Subject<S>();
  private readonly commandsSubject = new Subject<Commit<C, E>>();
  /** Emissions of commands committed while emitting (re-entrant dispatch), delivered FIFO. */
  private readonly pending: {
    command: LogRecord<C>;
    events: readonly LogRecord<E>[];
    state: S | undefined;
  }[] = [];
  private emitting = false;
  private armed = 0;
  private armedAs: ErrnoName | undefined;
  private lastReport: StepReport = { sites: [], fired: false };

  /** Event records of each committed command (one emission per command). */
  readonly events$: Observable<readonly LogRecord<E>[]> = this.eventsSubject.asObservable();
  /** The state after each committed command (sealed: safe to keep). */
  readonly state$: Observable<S> = this.stateSubject.asObservable();
  /** Each committed command with its events. */
  readonly commands$: Observable<Commit<C, E>> = this.commandsSubject.asObservable();

  constructor(
    readonly decider: Decider<C, E, S>,
    options: LogOptions = {},
  ) {
    this.current = decider.initialState;
    this.snapshotEvery = options.snapshotEvery ?? 4096;
    this.retain = options.retain ?? Number.POSITIVE_INFINITY;
    if (!(this.retain >= 1)) throw new RangeError(`retain must be at least 1, got ${options.retain}`);
    this.snapshots.push(Object.freeze({ seq: 0, state: this.current }));
    sealEpoch();
  }

  /** The current state (sealed, so safe to keep). */
  get state(): S {
    sealEpoch();
    return this.current;
  }

  /**
   * The live state without sealing it: for trusted readers on hot paths
   * (an ioctl layer answering a query) that use it at once and keep
   * nothing. Bulk tables in it may change in place on the next dispatch;
   * use `state` or `snapshot()` to keep a state.
   */
  peek(): S {
    return this.current;
  }

  /** Sequence number of the last record (0 for an empty log). */
  get seq(): number {
    return this.base + this.log.length;
  }

  /** Every record, oldest first. Do not mutate. */
  get records(): readonly LogRecord<C | E>[] {
    return this.log;
  }

  /** Fallible steps reached by the last dispatched command (see `failNth`). */
  get lastSteps(): StepReport {
    return this.lastReport;
  }

  /**
   * Arm fault injection: the `n`th (1-based) fallible step of the next
   * dispatched command fails with `as` (default: the step's own errno,
   * usually ENOMEM). The arming is used up by that one command.
   */
  failNth(n: number, as?: ErrnoName): void {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`failNth: n must be a positive integer, got ${n}`);
    this.armed = n;
    this.armedAs = as;
  }

  /**
   * Decide and commit one command.
   * @returns the committed event records, or the `Errno` (nothing changed).
   */
  dispatch(command: C): readonly LogRecord<E>[] | Errno {
    const result = this.decideArmed(command);
    if (isErrno(result)) return result;
    return this.commit(command, result);
  }

  private decideArmed(command: C): readonly E[] | Errno {
    if (this.armed === 0) {
      if (this.lastReport.sites.length !== 0) this.lastReport = { sites: [], fired: false };
      return this.decider.decide(this.current, command, NO_FAULTS);
    }
    const counter = new StepCounter(this.armed);
    const as = this.armedAs;
    this.armed = 0;
    this.armedAs = undefined;
    const ctx = as === undefined ? counter : { step: (site: string) => counter.step(site, as) };
    const result = this.decider.decide(this.current, command, ctx);
    this.lastReport = { sites: counter.sites, fired: counter.fired };
    return result;
  }

  private commit(command: C, events: readonly E[]): readonly LogRecord<E>[] {
    const log = this.log;
    const commandRecord = toRecord<C>(this.base + log.length + 1, "command", command);
    log.push(commandRecord);
    const records: LogRecord<E>[] = new Array(events.length);
    let state = this.current;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const record = toRecord<E>(this.base + log.length + 1, "event", event);
      log.push(record);
      records[i] = record;
      state = this.decider.evolve(state, event);
    }
    this.current = state;
    if (this.seq - this.snapshots[this.snapshots.length - 1]!.seq >= this.snapshotEvery) this.keepSnapshot();
    if (log.length >= 2 * this.retain) this.trim();
    this.emit(commandRecord, records);
    return records;
  }

  private emit(command: LogRecord<C>, events: readonly LogRecord<E>[]): void {
    const wantsState = this.stateSubject.observed;
    if (!wantsState && !this.eventsSubject.observed && !this.commandsSubject.observed) return;
    // A state handed to subscribers must not change under them: seal it.
    if (wantsState) sealEpoch();
    const state = wantsState ? this.current : undefined;
    if (this.emitting) {
      this.pending.push({ command, events, state });
      return;
    }
    this.emitting = true;
    try {
      this.deliver(command, events, state);
      for (let i = 0; i < this.pending.length; i++) {
        const p = this.pending[i]!;
        this.deliver(p.command, p.events, p.state);
      }
    } finally {
      this.pending.length = 0;
      this.emitting = false;
    }
  }

  private deliver(command: LogRecord<C>, events: readonly LogRecord<E>[], state: S | undefined): void {
    if (this.eventsSubject.observed) this.eventsSubject.next(events);
    if (state !== undefined) this.stateSubject.next(state);
    if (this.commandsSubject.observed) this.commandsSubject.next({ command, events });
  }

  /**
   * Let go of the records before the newest snapshot that still leaves
   * `retain` records after it, and of the snapshots before that one (which
   * becomes the first). Without such a snapshot nothing is dropped (the
   * log waits for the next one, `snapshotEvery` records on). Amortised
   * O(1) per record: it runs when the log holds 2 × `retain` records.
   */
  private trim(): void {
    const limit = this.seq - this.retain;
    let keep = -1;
    for (let i = this.snapshots.length - 1; i > 0; i--) {
      if (this.snapshots[i]!.seq <= limit) {
        keep = i;
        break;
      }
    }
    if (keep < 0) return;
    const from = this.snapshots[keep]!;
    this.log.splice(0, from.seq - this.base);
    this.base = from.seq;
    this.snapshots.splice(0, keep);
  }

  private keepSnapshot(): Snapshot<S> {
    sealEpoch();
    const snap: Snapshot<S> = Object.freeze({ seq: this.seq, state: this.current });
    this.snapshots.push(snap);
    return snap;
  }

  /**
   * The state at the current sequence number, immutable; O(1). The log does
   * not keep it (only its periodic snapshots serve `stateAt`), so holding
   * it is the caller's choice.
   */
  snapshot(): Snapshot<S> {
    sealEpoch();
    const last = this.lastIssued;
    if (last !== undefined && last.seq === this.seq && last.state === this.current) return last;
    const snap: Snapshot<S> = Object.freeze({ seq: this.seq, state: this.current });
    this.issued.add(snap);
    this.lastIssued = snap;
    return snap;
  }

  /** Snapshots this log handed out, to recognise them in `restore`. */
  private readonly issued = new WeakSet<Snapshot<S>>();
  private lastIssued: Snapshot<S> | undefined;

  /**
   * Make `snapshot` the current state. Records after `snapshot.seq` are
   * dropped when the snapshot is this log's own; a foreign snapshot (from
   * another log or a file) starts a log whose records begin after its seq.
   */
  restore(snapshot: Snapshot<S>): void {
    sealEpoch();
    const own =
      snapshot.seq >= this.base &&
      snapshot.seq <= this.seq &&
      (this.issued.has(snapshot) || this.snapshots.includes(snapshot));
    if (own) {
      this.log.length = snapshot.seq - this.base;
      while (this.snapshots.length > 1 && this.snapshots[this.snapshots.length - 1]!.seq > snapshot.seq) {
        this.snapshots.pop();
      }
      if (this.snapshots[this.snapshots.length - 1]!.seq < snapshot.seq) this.snapshots.push(snapshot);
    } else {
      this.log.length = 0;
      this.base = snapshot.seq;
      this.snapshots.length = 0;
      this.snapshots.push(snapshot);
    }
    this.current = snapshot.state;
  }

  /**
   * Reset to `from` (default: the initial state) and re-apply `records`
   * (evolve only; command records are kept but not re-decided). Records must
   * continue `from.seq` without gaps. Emits nothing; returns the new state.
   * @throws RangeError on a gap or reordering — a programming or file error,
   *   not a user-triggerable one (files are validated by the JSONL reader).
   */
  replay(records: Iterable<LogRecord<C | E>>, from?: Snapshot<S>): S {
    const start: Snapshot<S> = from ?? this.snapshots[0]!;
    this.log.length = 0;
    this.snapshots.length = 0;
    this.base = start.seq;
    this.snapshots.push(start);
    this.current = start.state;
    sealEpoch();
    this.append(records);
    return this.state;
  }

  /**
   * Append already-decided records (from a file or another log) with evolve
   * only. Used by `replay` and by streaming loaders.
   * @throws RangeError when a record's seq does not follow the log's.
   */
  append(records: Iterable<LogRecord<C | E>>): void {
    let state = this.current;
    for (const r of records) {
      const expected = this.base + this.log.length + 1;
      if (r.seq !== expected) throw new RangeError(`record seq ${r.seq} where ${expected} was expected`);
      this.log.push(r);
      if (r.kind === "event") state = this.decider.evolve(state, r as unknown as E);
      if (
        this.base + this.log.length - this.snapshots[this.snapshots.length - 1]!.seq >=
        this.snapshotEvery
      ) {
        this.current = state;
        this.keepSnapshot();
      }
    }
    this.current = state;
  }

  /**
   * The state after record `seq` (0 = before any): the nearest snapshot at or
   * before it, plus the tail of events evolved on top. The live state is
   * untouched.
   * @throws RangeError if seq is outside [first snapshot's seq, this.seq].
   */
  stateAt(seq: number): S {
    const end = this.base + this.log.length;
    if (!Number.isInteger(seq) || seq < this.snapshots[0]!.seq || seq > end) {
      throw new RangeError(`stateAt(${seq}): outside [${this.snapshots[0]!.seq}, ${end}]`);
    }
    let snap = this.snapshots[0]!;
    for (const s of this.snapshots) if (s.seq <= seq && s.seq >= snap.seq) snap = s;
    sealEpoch();
    let state = snap.state;
    for (let i = snap.seq - this.base; i < seq - this.base; i++) {
      const r = this.log[i]!;
      if (r.kind === "event") state = this.decider.evolve(state, r as unknown as E);
    }
    sealEpoch();
    return state;
  }
}

function toRecord<M extends Message>(seq: number, kind: "command" | "event", m: M): LogRecord<M> {
  return m.metadata === undefined
    ? { seq, kind, type: m.type, data: m.data }
    : { seq, kind, type: m.type, data: m.data, metadata: m.metadata };
}

/** Create an event log over `decider`. */
export function createLog<C extends Message, E extends Message, S>(
  decider: Decider<C, E, S>,
  options?: LogOptions,
): EventLog<C, E, S> {
  return new EventLog(decider, options);
}
