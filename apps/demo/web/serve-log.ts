/**
 * The dev server's default log, `GET /demo.jsonl`: the file named by the
 * environment variable `IOMMU_SIM_LOG` (JSON Lines, plain or gzip) when it
 * is set, else the log of `pnpm demo`'s story (web/src/story-log.ts),
 * generated on the fly by the real packages.
 */
import { createReadStream } from "node:fs";
import type { Plugin } from "vite";
import { DEFAULT_LOG_URL } from "./src/default-log.ts";

/** The URL path the page loads when no `?log=` is given. */
export const DEFAULT_LOG_PATH = `/${DEFAULT_LOG_URL}`;

/** A Vite plugin serving `DEFAULT_LOG_PATH` (dev server only). */
export function serveLog(file: string | undefined = process.env.IOMMU_SIM_LOG): Plugin {
  return {
    name: "iommu-sim:serve-log",
    configureServer(server) {
      server.middlewares.use(DEFAULT_LOG_PATH, (_req, res, next) => {
        res.setHeader("content-type", "application/x-ndjson");
        res.setHeader("cache-control", "no-store");
        if (file !== undefined) {
          // A missing file is the user's mistake: answer 404 with the reason, which the page shows.
          createReadStream(file)
            .on("error", (e) => {
              res.statusCode = 404;
              res.statusMessage = "log file not readable";
              res.end(e.message);
            })
            .pipe(res);
          return;
        }
        server
          .ssrLoadModule("/src/story-log.ts")
          .then((m) => res.end((m as typeof import("./src/story-log")).storyLogText()))
          .catch(next);
      });
    },
  };
}
