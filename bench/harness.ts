/**
 * The shape of a benchmark case. Each package lists its cases in
 * `packages/<pkg>/bench/*.bench.ts` (default export: `BenchCase[]`);
 * `pnpm bench` (bench/run.ts) runs them with tinybench and writes the
 * medians to bench/results.json as `[{name, unit, value}]`.
 *
 * Kept as plain types so packages need no import from the runner.
 */

/** A target a figure must meet, e.g. `{ op: ">=", value: 2e6 }`. */
export interface BenchTarget {
  readonly op: ">=" | "<=";
  readonly value: number;
}

interface CaseBase {
  /** Dotted figure name, package first: `eventlog.dispatch`. */
  readonly name: string;
  /** What `value` counts, e.g. `commands/s`, `µs`, `bytes/page`. */
  readonly unit: string;
  readonly target?: BenchTarget;
  /** One line: what is measured and how. */
  readonly doc: string;
  /** Prepare state shared by every iteration (not timed). */
  setup?(): void | Promise<void>;
  /** Release what setup made (not timed). */
  teardown?(): void | Promise<void>;
}

/** `value` = `opsPerIteration` / median iteration time in seconds. */
export interface ThroughputCase extends CaseBase {
  readonly kind: "throughput";
  readonly opsPerIteration: number;
  /** Prepare one iteration (not timed). */
  beforeEach?(): void;
  iteration(): void | Promise<void>;
  /** Minimum iterations (default 10). */
  readonly iterations?: number;
}

/** `value` = median iteration time in `unit` (µs or ms), divided by `opsPerIteration` (default 1). */
export interface LatencyCase extends CaseBase {
  readonly kind: "latency";
  readonly unit: "µs" | "ms";
  /** Operations one iteration performs; the figure is per operation. */
  readonly opsPerIteration?: number;
  beforeEach?(): void;
  iteration(): void;
  readonly iterations?: number;
}

/** `value` = median of `samples` calls to `measure` (memory, sizes…). */
export interface ValueCase extends CaseBase {
  readonly kind: "value";
  measure(): number | Promise<number>;
  readonly samples?: number;
}

export type BenchCase = ThroughputCase | LatencyCase | ValueCase;
