#!/usr/bin/env node
/** The `iommu-sim` executable: see cli.ts. */
import { main } from "./cli";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`iommu-sim: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70; // EX_SOFTWARE
  },
);
