// Command-line parsing on node's util.parseArgs, plus the checks of flag
// values that can be made without a server. Every failure is a UsageError
// whose message is the one line the user sees after "uniformity: ".
import { parseArgs } from "node:util";

/** Wrong command line: exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Anything else that stops a command with a one-line reason (exit 1 unless told). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in help, e.g. "N". */
  value?: string;
  help: string;
}

export interface PositionalSpec {
  name: string;
  /** Takes every remaining argument (at least one). */
  variadic?: boolean;
}

export interface CommandSpec {
  /** Words after `uniformity`, e.g. "dataset import". */
  path: string;
  /** One line for `uniformity --help`. */
  summary: string;
  /** Arguments after the path, as shown in usage. */
  usage: string;
  /** More text for the command's own --help. */
  description?: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
}

type Value = string | boolean | (string | boolean)[] | undefined;

export interface Parsed {
  command: string;
  positionals: string[];
  values: Record<string, Value>;
  json: boolean;
}

// Options every command takes.
const COMMON: Record<string, OptionSpec> = {
  json: { type: "boolean", help: "print machine-readable JSON on stdout" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

function hint(spec: CommandSpec): string {
  return ` (see: uniformity ${spec.path} --help)`;
}

/** Rewrites parseArgs' multi-sentence errors into one short line. */
function explain(err: unknown, spec: CommandSpec): UsageError {
  const { code, message } = err as { code?: string; message: string };
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown option ${option}${hint(spec)}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing/.test(message)) return new UsageError(`${option} needs a value`);
      if (/does not take an argument/.test(message)) return new UsageError(`${option} does not take a value`);
      if (/ambiguous/.test(message)) return new UsageError(`${option} needs a value; write ${option}=VALUE for one starting with "-"`);
      return new UsageError(`bad value for ${option}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`unexpected argument${hint(spec)}`);
    default:
      return new UsageError(message.split("\n")[0] ?? "bad arguments");
  }
}

/** Parses one command's arguments; "help" when --help was given (it wins over every other problem). */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed | "help" {
  if (argv.includes("--help") || argv.includes("-h")) return "help";
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, ...COMMON }).map(([name, o]) => [
      name,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
  let result: { values: Record<string, Value>; positionals: string[] };
  try {
    result = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof result;
  } catch (err) {
    throw explain(err, spec);
  }
  const { positionals, values } = result;
  const variadic = spec.positionals.some((p) => p.variadic);
  if (positionals.length < spec.positionals.length) {
    const missing = spec.positionals[positionals.length]!;
    throw new UsageError(`missing ${missing.name}${hint(spec)}`);
  }
  if (!variadic && positionals.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}${hint(spec)}`);
  }
  return { command: spec.path, positionals, values, json: values.json === true };
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, ...COMMON }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.help + (o.multiple ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `usage: uniformity ${spec.path}${spec.usage ? " " + spec.usage : ""}`,
    "",
    spec.summary + (spec.description ? "\n" + spec.description : ""),
    "",
    "options:",
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    "",
  ].join("\n");
}

// ---- typed access to parsed values ----

export function str(p: Parsed, name: string): string | undefined {
  const value = p.values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredStr(p: Parsed, name: string): string {
  const value = str(p, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  if (value === "") throw new UsageError(`--${name} must not be empty`);
  return value;
}

export function list(p: Parsed, name: string): string[] {
  const value = p.values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** The one of several exclusive options that was given; UsageError when none or more than one was. */
export function oneOf<T extends string>(p: Parsed, names: readonly T[], required = true): T | undefined {
  const given = names.filter((name) => p.values[name] !== undefined);
  if (given.length > 1) throw new UsageError(`${given.map((n) => `--${n}`).join(" and ")} cannot be used together`);
  if (given.length === 0 && required) throw new UsageError(`give ${names.map((n) => `--${n}`).join(" or ")}`);
  return given[0];
}

export function choice<T extends string>(p: Parsed, name: string, options: readonly T[]): T | undefined {
  const value = str(p, name);
  if (value === undefined) return undefined;
  if (!(options as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${options.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

// Numbers are parsed strictly: "10abc" or "1e3" for a count is a typo, not 10 or 1000.
function integerValue(flagName: string, raw: string, min: number, what: string): number {
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flagName} must be ${what}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function parseInteger(flagName: string, raw: string, min: 0 | 1): number {
  return integerValue(flagName, raw, min, min === 1 ? "a positive integer" : "a non-negative integer");
}

export function positiveInt(p: Parsed, name: string): number | undefined {
  const raw = str(p, name);
  return raw === undefined ? undefined : integerValue(`--${name}`, raw, 1, "a positive integer");
}

export function nonNegativeInt(p: Parsed, name: string): number | undefined {
  const raw = str(p, name);
  return raw === undefined ? undefined : integerValue(`--${name}`, raw, 0, "a non-negative integer");
}

/** A finite decimal number; `check` says what else it must satisfy, in the words of the error. */
export function parseNumber(flagName: string, raw: string, check: (value: number) => boolean, what: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || !check(value)) {
    throw new UsageError(`${flagName} must be ${what}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function positiveNumber(p: Parsed, name: string): number | undefined {
  const raw = str(p, name);
  return raw === undefined ? undefined : parseNumber(`--${name}`, raw, (v) => v > 0, "a number > 0");
}

export function numberInRange(p: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = str(p, name);
  return raw === undefined ? undefined : parseNumber(`--${name}`, raw, (v) => v >= min && v <= max, `a number between ${min} and ${max}`);
}
