/**
 * The `iommu-sim` command line: `main(argv)` parses the arguments
 * (node:util parseArgs, strict: unknown flags are errors), runs the command
 * and returns the exit code. Every user error is one line
 * `iommu-sim: <file>:<line>: <field>: <reason>` (as much of it as applies)
 * and exit code 2.
 */
import { parseArgs } from "node:util";
import { LogFormatError } from "@iommu-sim/eventlog";
import { runExec } from "./commands/exec";
import { serveUntilSignalled } from "./commands/serve";
import { EXIT_USAGE, UsageError } from "./errors";
import { inspectLog } from "./logs/inspect";
import { replayLog } from "./logs/replay";
import { rerunLog } from "./logs/rerun";
import { objectLines, summaryLines } from "./logs/summary";
import { loadPlatform } from "./platform-file";
import { ShimBuildError } from "./shim/build";

/** What `iommu-sim --help` prints. */
export const USAGE = `usage:
  iommu-sim exec [--platform FILE] [--log FILE] -- PROGRAM [ARGS...]
      run PROGRAM with /dev/iommu and /dev/vfio/vfio served by the model
  iommu-sim serve --socket PATH [--platform FILE] [--log FILE]
      run the model daemon alone; clients: LD_PRELOAD=<shim> IOMMU_SIM_SOCKET=PATH PROGRAM
  iommu-sim replay LOG [--to SEQ] [--json]
      re-apply a log's events; print the state hash and a summary
  iommu-sim rerun LOG [--json]
      re-decide a log's commands with this code; report the first divergence
  iommu-sim inspect LOG [--at SEQ] [--object ID] [--json]
      the state at a point of a log
`;

type Handler = (args: string[]) => Promise<number>;

/** Option declarations: every option takes a string value or is a boolean flag. */
type OptionSpec = Record<string, { type: "string" | "boolean" }>;

/** Parsed arguments. */
interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** parseArgs (strict) with our error style and a positional count check. */
export function parseCommandArgs(
  command: string,
  args: readonly string[],
  options: OptionSpec,
  positionals: { min: number; max: number; names: string },
): Parsed {
  let r: Parsed;
  try {
    r = parseArgs({ args: [...args], options, allowPositionals: true, strict: true }) as Parsed;
  } catch (e) {
    // parseArgs appends advice after the first sentence; the first is the error.
    throw new UsageError(`${command}: ${(e as Error).message.split(/\.\s|\n/)[0]}`);
  }
  if (r.positionals.length < positionals.min)
    throw new UsageError(`${command}: missing ${positionals.names}`);
  if (r.positionals.length > positionals.max) {
    throw new UsageError(`${command}: unexpected argument '${r.positionals[positionals.max]}'`);
  }
  return r;
}

/** A string option's value. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

const exec: Handler = async (args) => {
  const dash = args.indexOf("--");
  const own = dash < 0 ? args : args.slice(0, dash);
  const program = dash < 0 ? [] : args.slice(dash + 1);
  const p = parseCommandArgs(
    "exec",
    own,
    { platform: { type: "string" }, log: { type: "string" } },
    { min: 0, max: 0, names: "" },
  );
  if (program.length === 0) throw new UsageError("exec: missing -- PROGRAM [ARGS...]");
  const platform = loadPlatform(str(p, "platform"));
  const log = str(p, "log");
  const r = await runExec({
    program: program[0]!,
    args: program.slice(1),
    platform,
    ...(log === undefined ? {} : { logPath: log }),
  });
  return r.status;
};

const serve: Handler = async (args) => {
  const p = parseCommandArgs(
    "serve",
    args,
    { socket: { type: "string" }, platform: { type: "string" }, log: { type: "string" } },
    { min: 0, max: 0, names: "" },
  );
  const socketPath = str(p, "socket");
  if (socketPath === undefined) throw new UsageError("serve: --socket PATH is required");
  const platform = loadPlatform(str(p, "platform"));
  const log = str(p, "log");
  return serveUntilSignalled({ socketPath, platform, ...(log === undefined ? {} : { logPath: log }) });
};

/** A sequence number option: a non-negative integer. @throws UsageError otherwise. */
function seqOption(command: string, p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`${command}: --${name}: '${v}' is not a sequence number`);
  }
  return Number(v);
}

const out = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
const json = (v: unknown) =>
  out(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x), 2));

const replay: Handler = async (args) => {
  const p = parseCommandArgs(
    "replay",
    args,
    { to: { type: "string" }, json: { type: "boolean" } },
    {
      min: 1,
      max: 1,
      names: "LOG",
    },
  );
  const r = await replayLog(p.positionals[0]!, seqOption("replay", p, "to"));
  if (p.values.json === true) json({ file: r.file, seq: r.seq, hash: r.hash, summary: r.summary });
  else
    out(
      [`${r.file}: replayed to seq ${r.seq}`, `state sha256 ${r.hash}`, ...summaryLines(r.summary)].join(
        "\n",
      ),
    );
  return 0;
};

const rerun: Handler = async (args) => {
  const p = parseCommandArgs("rerun", args, { json: { type: "boolean" } }, { min: 1, max: 1, names: "LOG" });
  const r = await rerunLog(p.positionals[0]!);
  if (p.values.json === true) json(r);
  else if (r.divergence === undefined) {
    out(`${r.file}: ${r.commands} command(s) re-decided, no divergence\nstate sha256 ${r.hash}`);
  } else {
    const d = r.divergence;
    const now =
      typeof d.now === "string" ? `now fails: ${d.now}` : `now: ${JSON.stringify(d.now.map((e) => e.type))}`;
    out(
      `${r.file}: diverges at seq ${d.at} (command ${d.command} at seq ${d.seq})\n` +
        `  logged: ${JSON.stringify(d.logged.map((e) => e.type))}\n  ${now}`,
    );
  }
  return r.divergence === undefined ? 0 : 1;
};

const inspect: Handler = async (args) => {
  const p = parseCommandArgs(
    "inspect",
    args,
    { at: { type: "string" }, object: { type: "string" }, json: { type: "boolean" } },
    { min: 1, max: 1, names: "LOG" },
  );
  const r = await inspectLog(p.positionals[0]!, seqOption("inspect", p, "at"), str(p, "object"));
  if (p.values.json === true) json(r);
  else if (r.objects !== undefined) out(objectLines(r.objects).join("\n"));
  else
    out([`${r.file} at seq ${r.seq}`, `state sha256 ${r.hash}`, ...summaryLines(r.summary ?? {})].join("\n"));
  return 0;
};

/** The commands, by name. */
export const COMMANDS: Record<string, Handler> = { exec, serve, replay, rerun, inspect };

/**
 * Run the command line `argv` (without node and the script).
 * @returns the exit code: the command's, or 2 for a usage error.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const handler = COMMANDS[name];
  try {
    if (handler === undefined) throw new UsageError(`unknown command '${name}' (see iommu-sim --help)`);
    return await handler(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof LogFormatError || e instanceof ShimBuildError) {
      process.stderr.write(`iommu-sim: ${e.message}\n`);
      return e instanceof ShimBuildError ? 1 : EXIT_USAGE;
    }
    throw e;
  }
}
