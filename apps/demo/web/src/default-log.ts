/**
 * The log the page loads when the URL has no `?log=`: served by the dev
 * server (web/serve-log.ts), relative to the page so a built copy under any
 * path finds a `demo.jsonl` placed beside it.
 */
export const DEFAULT_LOG_URL = "demo.jsonl";
