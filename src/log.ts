/**
 * Structured logs: one JSON object per line on stderr, nothing else. The
 * level can change at runtime; values equal to a registered secret are
 * redacted. Under systemd (stderr connected to the journal: $JOURNAL_STREAM)
 * each line starts with its syslog priority, "<3>" error, "<4>" warn, "<6>"
 * info, "<7>" debug, which journald takes as the entry's priority and
 * removes: the journal holds the JSON with the right priority.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** syslog(3) priorities of the levels (journald reads them from a "<N>" line prefix). */
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export interface Logger {
  level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Any later log value containing this text is replaced by "[redacted]". */
  redact(secret: string): void;
}

export function createLogger(
  opts: { level?: LogLevel; write?: (line: string) => void; journal?: boolean } = {},
): Logger {
  const secrets: string[] = [];
  const write = opts.write ?? ((line: string) => console.error(line));
  const journal = opts.journal ?? Deno.env.get("JOURNAL_STREAM") !== undefined;
  const clean = (v: unknown): unknown => {
    if (typeof v !== "string") return v;
    let s = v;
    for (const secret of secrets) if (secret) s = s.split(secret).join("[redacted]");
    return s;
  };
  const logger: Logger = {
    level: opts.level ?? "info",
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    redact: (secret) => secrets.push(secret),
  };
  function emit(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] < ORDER[logger.level]) return;
    const record: Record<string, unknown> = {
      ts: new Date().toISOString(),
      level,
      msg: clean(msg),
    };
    for (const [k, v] of Object.entries(fields)) record[k] = clean(v);
    write(journal ? `<${PRIORITY[level]}>${JSON.stringify(record)}` : JSON.stringify(record));
  }
  return logger;
}
