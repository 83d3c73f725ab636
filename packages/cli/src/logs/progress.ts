/**
 * A one-line progress bar on stderr for long logs: shown only when stderr
 * is a TTY and the file is at least 1 MiB, redrawn at most every 100 ms,
 * erased when done.
 */

/** A progress bar (a no-op when not shown). */
export interface Progress {
  /** `done` of `total` bytes, `records` so far. */
  update(done: number, records: number): void;
  end(): void;
}

const WIDTH = 30;

/** A progress bar for reading `total` bytes of `label`. */
export function progressBar(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY || total < 1 << 20) return { update() {}, end() {} };
  let last = 0;
  let drawn = false;
  return {
    update(done, records) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const f = Math.min(1, done / total);
      const filled = Math.round(f * WIDTH);
      stream.write(
        `\r${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${records} records`,
      );
      drawn = true;
    },
    end() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}
