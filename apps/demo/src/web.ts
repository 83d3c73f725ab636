/**
 * The web view's dev server on 127.0.0.1 (`pnpm demo web`, see cli.ts).
 * With a log file, the page opens that log (served as /demo.jsonl);
 * without one, the sample session of web/src/sample.ts.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type ViteDevServer } from "vite";

/** Options of `startWeb`. */
export interface WebOptions {
  /** A log file (JSON Lines, plain or gzip) to show instead of the sample. */
  readonly log?: string;
  /** TCP port (default 5173; 0 = any free port). */
  readonly port?: number;
}

const configFile = fileURLToPath(new URL("../web/vite.config.ts", import.meta.url));

/**
 * Start the dev server. The caller closes it (`server.close()`).
 * @throws Error when the port is taken or the config cannot be loaded.
 */
export async function startWeb(options: WebOptions = {}): Promise<ViteDevServer> {
  // web/serve-log.ts reads the file to serve from the environment when the config loads.
  // A relative path is the user's: pnpm runs scripts in the package directory but keeps the caller's in INIT_CWD.
  if (options.log !== undefined) {
    process.env.IOMMU_SIM_LOG = resolve(process.env.INIT_CWD ?? process.cwd(), options.log);
  }
  const server = await createServer({
    configFile,
    server: { host: "127.0.0.1", port: options.port ?? 5173, strictPort: true },
  });
  await server.listen();
  return server;
}

/** Parse `[--port N] [log]`. @returns an error text for people on bad arguments. */
export function parseWebArgs(argv: readonly string[]): WebOptions | string {
  let log: string | undefined;
  let port: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--port") {
      port = Number(argv[++i]);
      if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port: not a TCP port: ${argv[i]}`;
    } else if (a.startsWith("-")) {
      return `unknown option ${a}`;
    } else if (log === undefined) {
      log = a;
    } else {
      return `one log file at most (got ${log} and ${a})`;
    }
  }
  return { ...(log === undefined ? {} : { log }), ...(port === undefined ? {} : { port }) };
}
