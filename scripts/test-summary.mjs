// Prints the plain closing line CI reads ("tests: N passed, N failed, N skipped")
// from the JSON report vitest writes on every `pnpm test` (see vitest.config.ts).
import { readFileSync } from "node:fs";

const r = JSON.parse(readFileSync("node_modules/.cache/vitest-report.json", "utf8"));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exit(r.numFailedTests === 0 && r.numTotalTests > 0 ? 0 : 1);
