/** The progress bar: only on a TTY and for files of 1 MiB or more; erased at the end. */
import { describe, expect, it, vi } from "vitest";
import { progressBar } from "../src/logs/progress";

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

describe("progressBar", () => {
  it("draws a bar with the percentage and record count, then erases it", () => {
    const { writes, stream } = fakeStream(true);
    vi.spyOn(Date, "now").mockReturnValue(1000);
    const p = progressBar("replay x", 4 << 20, stream);
    p.update(1 << 20, 123);
    p.end();
    vi.restoreAllMocks();
    expect(writes).toEqual([`\rreplay x [${"#".repeat(8)}${"-".repeat(22)}]  25% 123 records`, "\r\x1b[K"]);
  });

  it("stays silent when stderr is not a TTY or the file is small", () => {
    for (const [tty, size] of [
      [false, 4 << 20],
      [true, (1 << 20) - 1],
    ] as const) {
      const { writes, stream } = fakeStream(tty);
      const p = progressBar("x", size, stream);
      p.update(size, 1);
      p.end();
      expect(writes).toEqual([]);
    }
  });
});
