/**
 * `pnpm demo [web [--port N] [log.jsonl[.gz]]]`: without arguments, the
 * end-to-end story (main.ts); with `web`, the web view's dev server
 * (web.ts). Behind the package's `cli` script. Each branch imports only
 * what it runs: the story does not load Vite.
 */
export {}; // a module: top-level await

const [what, ...rest] = process.argv.slice(2).filter((a) => a !== "--");
if (what === undefined) {
  await import("./main");
} else if (what === "web") {
  const { parseWebArgs, startWeb } = await import("./web");
  const options = parseWebArgs(rest);
  if (typeof options === "string") {
    console.error(`demo web: ${options}`);
    process.exit(2);
  }
  const server = await startWeb(options);
  server.printUrls();
} else {
  console.error(`demo: unknown command '${what}' (usage: pnpm demo [web [--port N] [log.jsonl[.gz]]])`);
  process.exit(2);
}
