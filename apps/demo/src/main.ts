/**
 * `pnpm demo`: the story through the public packages, told step by
 * step (what was mapped where, which translation, which fault, which
 * errno), its log written to a file, replayed, and the replayed state hash
 * checked against the live one (demo.ts). Exits 1 when they differ.
 */
import { runDemo } from "./demo";

const t0 = performance.now();
const run = await runDemo((line) => console.log(line));
console.log(`\ndone in ${Math.round(performance.now() - t0)} ms`);
if (!run.ok) process.exitCode = 1;
