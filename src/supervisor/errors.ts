/** Why a configuration change was refused before anything changed. */

/** A key that cannot take effect while the relay runs (the API answers 409 restart_required). */
export class RestartRequiredError extends Error {
  override name = "RestartRequiredError";
  constructor(readonly key: string, detail = "") {
    super(
      `changing "${key}" needs a restart of mcr; nothing changed${detail ? ` (${detail})` : ""}`,
    );
  }
}

/** The change needs more of a bounded resource (ring memory, counter slots) than exists. */
export class ResourceLimitError extends Error {
  override name = "ResourceLimitError";
  constructor(readonly resource: string, message: string) {
    super(message);
  }
}

/** A change that failed while being applied (a worker refused or died): it was rolled back. */
export class ApplyFailedError extends Error {
  override name = "ApplyFailedError";
  constructor(cause: Error) {
    super(`the change could not be applied and was rolled back: ${cause.message}`, { cause });
  }
}

/** A change that was applied but could not be persisted: it was rolled back. */
export class PersistFailedError extends Error {
  override name = "PersistFailedError";
  constructor(cause: Error) {
    super(
      `the change could not be written to the configuration file and was rolled back: ${cause.message}`,
      { cause },
    );
  }
}

/** A manual lock that cannot be: the rule is not a failover merge, or has no such leg (HTTP 409). */
export class MergeLockError extends Error {
  override name = "MergeLockError";
}
