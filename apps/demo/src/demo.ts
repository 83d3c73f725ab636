/**
 * `pnpm demo` as a function: the story (story/run.ts) told line by line,
 * then its log written to a file, replayed from it with validation, and
 * the replayed state hash compared with the live one. main.ts prints it;
 * the tests call it directly.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ReplayCheck, writeAndReplay } from "./replay";
import { runStory, type StoryRun } from "./story/run";

/** A run of the demo: the story, the replay, and whether the hashes agree. */
export interface DemoRun {
  readonly story: StoryRun;
  readonly replay: ReplayCheck;
  readonly ok: boolean;
}

/**
 * Tell the story to `out`, then write the log to `file` (default: a new
 * temporary directory's demo.jsonl), replay and compare.
 */
export async function runDemo(out: (line: string) => void, file?: string): Promise<DemoRun> {
  out("iommu-sim demo — the Linux IOMMU user stack in software");
  const story = runStory(out);
  const path = file ?? join(mkdtempSync(join(tmpdir(), "iommu-sim-demo-")), "demo.jsonl");
  const replay = await writeAndReplay(story.log, path);
  const ok = replay.live === replay.again && replay.replayed === replay.records;
  story.account.step(6, "The log, replayed");
  story.account.say(`the log (${replay.records} records) is in ${replay.file}`);
  story.account.say(
    `read back with every line validated and replayed into an empty system: ${replay.replayed} records; state hash live ${replay.live.slice(0, 16)}… replayed ${replay.again.slice(0, 16)}… → ${replay.live === replay.again ? "equal" : "DIFFERENT"}`,
  );
  return { story, replay, ok };
}
