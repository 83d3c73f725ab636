/**
 * Building the preload shim: shim/iommu_sim_preload.c is compiled with the
 * system C compiler (`cc -shared -fPIC -O2`, or $CC) on first use into a
 * cache directory, under a name keyed by the SHA-256 of the source and the
 * command line, so an edited shim is rebuilt and nothing binary is ever
 * committed or shipped. Concurrent builders write to a temporary name and
 * rename, so a half-written library is never loaded.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The shim's source file name, in packages/cli/shim/. */
export const SHIM_SOURCE = "iommu_sim_preload.c";

/** Where the shim's source is: beside src/ (running from sources) or dist/ (built). */
export function shimSourcePath(): string {
  const candidates = ["../../shim/", "../shim/"].map((rel) =>
    fileURLToPath(new URL(rel + SHIM_SOURCE, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`cannot find ${SHIM_SOURCE} (looked in ${candidates.join(", ")})`);
  return found;
}

/**
 * The cache directory: $IOMMU_SIM_CACHE_DIR, else $XDG_CACHE_HOME/iommu-sim,
 * else ~/.cache/iommu-sim, else <tmpdir>/iommu-sim-cache.
 */
export function shimCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IOMMU_SIM_CACHE_DIR) return env.IOMMU_SIM_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "iommu-sim");
  const home = homedir();
  return home ? join(home, ".cache", "iommu-sim") : join(tmpdir(), "iommu-sim-cache");
}

/** The C compiler: $CC, else `cc`. */
export function cCompiler(env: NodeJS.ProcessEnv = process.env): string {
  return env.CC || "cc";
}

/** The shim could not be built: the message carries the compiler's output. */
export class ShimBuildError extends Error {
  override name = "ShimBuildError";
}

/**
 * The shared library to put in LD_PRELOAD, built now if the cache lacks it.
 * @throws ShimBuildError when no compiler runs or compilation fails.
 */
export function buildShim(env: NodeJS.ProcessEnv = process.env): string {
  const source = shimSourcePath();
  const cc = cCompiler(env);
  const flags = ["-shared", "-fPIC", "-O2", "-Wall"];
  const text = readFileSync(source);
  const key = createHash("sha256")
    .update(text)
    .update(`\0${cc}\0${flags.join(" ")}\0${process.arch}`)
    .digest("hex")
    .slice(0, 16);
  const dir = shimCacheDir(env);
  const lib = join(dir, `iommu_sim_preload-${key}.so`);
  if (existsSync(lib)) return lib;
  mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.${process.pid}.tmp`;
  try {
    execFileSync(cc, [...flags, "-o", tmp, source, "-ldl", "-lpthread"], { stdio: "pipe" });
    renameSync(tmp, lib);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === "ENOENT") {
      throw new ShimBuildError(
        `no C compiler '${cc}' found: iommu-sim exec builds its preload shim from source`,
      );
    }
    throw new ShimBuildError(`building the preload shim failed:\n${err.stderr?.toString() ?? err.message}`);
  }
  return lib;
}
