// Structured JSON logs, one object a line, carrying the active trace id so a
// log line can be found from a trace and back.
import { trace } from "@opentelemetry/api";
import type { LogLevel } from "./config";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export function createLogger(
  component: string,
  level: LogLevel = "info",
  base: Fields = {},
  write: (line: string) => void = (line) => process.stdout.write(line + "\n"),
): Logger {
  const emit = (at: LogLevel, msg: string, fields?: Fields): void => {
    if (ORDER[at] < ORDER[level]) return;
    const span = trace.getActiveSpan()?.spanContext();
    const record: Fields = { ts: new Date().toISOString(), level: at, component, msg, ...base, ...fields };
    if (span) record.trace_id = span.traceId;
    for (const [key, value] of Object.entries(record)) {
      if (value instanceof Error) record[key] = value.message;
    }
    write(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(component, level, { ...base, ...fields }, write),
  };
}
