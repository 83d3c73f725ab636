/**
 * Building the preload shim and the daemon's slot-mapping addon:
 * shim/iommu_sim_preload.c and native/iommu_sim_slot_map.c are compiled with the
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
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The shim's source file name, in packages/cli/shim/. */
export const SHIM_SOURCE = "iommu_sim_preload.c";

/** Where `file` of the package's directory `dir` is, from src/shim/ (running from sources) or dist/ (built). */
function sourcePath(dir: string, file: string): string {
  const candidates = [`../../${dir}/`, `../${dir}/`].map((rel) =>
    fileURLToPath(new URL(rel + file, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`cannot find ${file} (looked in ${candidates.join(", ")})`);
  return found;
}

/** Where the shim's source is: beside src/ (running from sources) or dist/ (built). */
export function shimSourcePath(): string {
  return sourcePath("shim", SHIM_SOURCE);
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
 * Compile `source` with `flags` (then `-o`, the source, `libs`) into
 * `<cache>/<stem>-<key>.<ext>` unless it is there already; `key` hashes the
 * source, the compiler, the flags and the CPU architecture.
 * @returns the built file's path.
 * @throws ShimBuildError (naming `what`) when no compiler runs or compilation fails.
 */
function buildCached(
  what: string,
  source: string,
  flags: readonly string[],
  libs: readonly string[],
  ext: string,
  env: NodeJS.ProcessEnv,
): string {
  const cc = cCompiler(env);
  const text = readFileSync(source);
  const key = createHash("sha256")
    .update(text)
    .update(`\0${cc}\0${flags.join(" ")}\0${process.arch}`)
    .digest("hex")
    .slice(0, 16);
  const dir = shimCacheDir(env);
  const stem = basename(source, ".c");
  const out = join(dir, `${stem}-${key}.${ext}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(cc, [...flags, "-o", tmp, source, ...libs], { stdio: "pipe" });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === "ENOENT") {
      throw new ShimBuildError(`no C compiler '${cc}' found: iommu-sim exec builds its ${what} from source`);
    }
    throw new ShimBuildError(`building the ${what} failed:\n${err.stderr?.toString() ?? err.message}`);
  }
  return out;
}

/**
 * The shared library to put in LD_PRELOAD, built now if the cache lacks it.
 * @throws ShimBuildError when no compiler runs or compilation fails.
 */
export function buildShim(env: NodeJS.ProcessEnv = process.env): string {
  return buildCached(
    "preload shim",
    shimSourcePath(),
    ["-shared", "-fPIC", "-O2", "-Wall"],
    ["-ldl", "-lpthread"],
    "so",
    env,
  );
}

/** The slot-mapping addon's source file name, in packages/cli/native/. */
export const SLOT_MAP_SOURCE = "iommu_sim_slot_map.c";

/**
 * The directory holding Node-API's headers (node_api.h) for the running
 * Node: <prefix>/include/node beside the executable's bin/, as Node's
 * installers lay it out; undefined when it is not there.
 */
export function nodeApiIncludeDir(): string | undefined {
  const dir = join(dirname(dirname(process.execPath)), "include", "node");
  return existsSync(join(dir, "node_api.h")) ? dir : undefined;
}

/**
 * The daemon's slot-mapping Node-API addon (native/iommu_sim_slot_map.c,
 * a `.node` file for process.dlopen), built now if the cache lacks it.
 * @throws ShimBuildError when Node's headers are missing, no compiler runs
 *   or compilation fails (the daemon then uses pread/pwrite).
 */
export function buildSlotMap(env: NodeJS.ProcessEnv = process.env): string {
  const include = nodeApiIncludeDir();
  if (include === undefined) throw new ShimBuildError(`no node_api.h beside ${process.execPath}`);
  const source = sourcePath("native", SLOT_MAP_SOURCE);
  return buildCached(
    "slot-mapping addon",
    source,
    ["-shared", "-fPIC", "-O2", "-Wall", `-I${include}`],
    [],
    "node",
    env,
  );
}
