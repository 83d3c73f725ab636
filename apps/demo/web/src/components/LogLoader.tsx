/**
 * Choosing a log: a file input (JSON Lines, plain or .gz) and a line saying
 * what is loaded. Dropping a file anywhere on the page does the same (see App).
 */
import type { LoadedLog } from "../load";

/** Props of `LogLoader`. */
export interface LogLoaderProps {
  readonly loaded: LoadedLog | undefined;
  /** What is being loaded right now, if anything. */
  readonly loading: string | undefined;
  readonly onFile: (file: File) => void;
}

/** The file chooser and the load status. */
export function LogLoader({ loaded, loading, onFile }: LogLoaderProps) {
  const status =
    loading !== undefined
      ? `loading ${loading}…`
      : loaded === undefined
        ? "no log loaded"
        : `${loaded.name}: ${loaded.log.seq} records`;
  return (
    <div class="loader">
      <label class="file">
        Open log…
        <input
          type="file"
          accept=".jsonl,.gz,application/x-ndjson,application/gzip"
          data-testid="log-file"
          onChange={(e) => {
            const file = (e.currentTarget as HTMLInputElement).files?.[0];
            if (file !== undefined) onFile(file);
          }}
        />
      </label>
      <span class="status" data-testid="log-status">
        {status}
      </span>
      <span class="hint">or drop a .jsonl / .jsonl.gz file on the page</span>
      {loaded?.error === undefined ? null : (
        <div class="error" data-testid="log-error">
          {loaded.error}
        </div>
      )}
    </div>
  );
}
