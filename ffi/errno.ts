/**
 * The one way native failures cross into TypeScript: a C function returns
 * -errno, check() turns it into a NativeError carrying the operation, the
 * errno number and name, and the context it happened in.
 */

/** Linux (x86-64 / generic) errno numbers and names. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  28: "ENOSPC",
  32: "EPIPE",
  34: "ERANGE",
  38: "ENOSYS",
  62: "ETIME",
  88: "ENOTSOCK",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  125: "ECANCELED",
};

/** Plain-language descriptions, for messages (strerror wording, lower case). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  ENXIO: "no such device or address",
  E2BIG: "argument list too long",
  EBADF: "bad file descriptor",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  ENODEV: "no such device",
  EINVAL: "invalid argument",
  ENFILE: "too many open files in system",
  EMFILE: "too many open files",
  ENOSPC: "no space left on device",
  EPIPE: "broken pipe",
  ERANGE: "numerical result out of range",
  ENOSYS: "function not implemented",
  ETIME: "timer expired",
  ENOTSOCK: "socket operation on non-socket",
  EMSGSIZE: "message too long",
  EPROTONOSUPPORT: "protocol not supported",
  EOPNOTSUPP: "operation not supported",
  EAFNOSUPPORT: "address family not supported by protocol",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "cannot assign requested address",
  ENETDOWN: "network is down",
  ENETUNREACH: "network is unreachable",
  ENOBUFS: "no buffer space available",
  ETIMEDOUT: "connection timed out",
  ECANCELED: "operation canceled",
};

/** The name of an errno number ("ENODEV"), or "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A failed native call: op (C function), errno and its name (code), and context. */
export class NativeError extends Error {
  readonly op: string;
  readonly errno: number;
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(op: string, errno: number, action: string, context: Record<string, unknown> = {}) {
    const code = errnoName(errno);
    const text = ERRNO_TEXT[code] ?? `error ${errno}`;
    super(`${action}: ${text} (${code})`);
    this.name = "NativeError";
    this.op = op;
    this.errno = errno;
    this.code = code;
    this.context = context;
  }
}

/**
 * Returns rc when it is >= 0; otherwise throws NativeError. `action` says
 * what was attempted, e.g. `Cannot open packet ring on interface "eth9"`.
 */
export function check(
  rc: number,
  op: string,
  action: string,
  context: Record<string, unknown> = {},
): number {
  if (rc >= 0) return rc;
  throw new NativeError(op, -rc, action, context);
}
