/**
 * Every error the proxy raises carries a stable `code` (listed in docs/operations.md) and, when it wraps
 * another failure, the ES2022 `cause`. `retriable` tells the caller whether trying another backend
 * (or the same operation later) may succeed.
 */
export const ErrorCodes = {
  CONFIG: 'HHP_ERR_CONFIG',
  JDBC_URL: 'HHP_ERR_JDBC_URL',
  ZNODE: 'HHP_ERR_ZNODE',
  DISCOVERY: 'HHP_ERR_DISCOVERY',
  ZK_WRITE: 'HHP_ERR_ZK_WRITE',
  NO_BACKEND: 'HHP_ERR_NO_BACKEND',
  ALL_BACKENDS_FAILED: 'HHP_ERR_ALL_BACKENDS_FAILED',
  CONNECT: 'HHP_ERR_CONNECT',
  CONNECT_TIMEOUT: 'HHP_ERR_CONNECT_TIMEOUT',
  LISTEN: 'HHP_ERR_LISTEN',
  LIFECYCLE: 'HHP_ERR_LIFECYCLE',
  /** HS2 over HTTP: a request's session (or operation) lives on a server that is gone */
  SESSION_LOST: 'HHP_ERR_SESSION_LOST',
  /** HS2 over HTTP: the backend failed after the request was sent (never re-sent elsewhere) */
  BACKEND_FAILED: 'HHP_ERR_BACKEND_FAILED',
  /** HS2 over HTTP: the backend sent no response headers within firstResponseTimeoutMs (hung?) */
  BACKEND_STALLED: 'HHP_ERR_BACKEND_STALLED',
  /** an active health probe failed: no answer in time, a broken connection, or a bad answer */
  PROBE: 'HHP_ERR_PROBE',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface ProxyErrorOptions {
  cause?: unknown
  retriable?: boolean
  backend?: string
}

export class ProxyError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly backend: string | undefined

  constructor(code: ErrorCode, message: string, opts: ProxyErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'ProxyError'
    this.code = code
    this.retriable = opts.retriable ?? false
    this.backend = opts.backend
  }
}

/** One problem in a configuration: which key, what is wrong, how to fix it. */
export interface ConfigProblem {
  key: string
  message: string
  fix: string
}

/** All problems of a configuration at once; the CLI prints them and exits non-zero before listening. */
export class ConfigError extends ProxyError {
  readonly problems: readonly ConfigProblem[]

  constructor(problems: readonly ConfigProblem[]) {
    super(ErrorCodes.CONFIG, formatProblems(problems))
    this.name = 'ConfigError'
    this.problems = problems
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => `  - ${p.key}: ${p.message} (fix: ${p.fix})`)
  return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`
}

/** A JDBC URL that Hive's own parser would reject (or that the proxy cannot serve). */
export class JdbcUrlError extends ProxyError {
  constructor(message: string) {
    super(ErrorCodes.JDBC_URL, message)
    this.name = 'JdbcUrlError'
  }
}

/** One failed connect attempt, kept for the aggregate error and the log line. */
export interface ConnectAttempt {
  backend: string
  code: string
  message: string
}

export class AllBackendsFailedError extends ProxyError {
  readonly attempts: readonly ConnectAttempt[]

  constructor(attempts: readonly ConnectAttempt[], cause?: unknown) {
    super(
      ErrorCodes.ALL_BACKENDS_FAILED,
      `all ${attempts.length} connect attempt(s) failed: ${attempts.map((a) => `${a.backend} ${a.code}`).join(', ')}`,
      { cause, retriable: true },
    )
    this.name = 'AllBackendsFailedError'
    this.attempts = attempts
  }
}

/**
 * Connect failures caused by the proxy's own limits, not by the backend: out of file
 * descriptors (EMFILE, ENFILE), socket memory (ENOBUFS, ENOMEM) or local ports (EADDRNOTAVAIL).
 * They must not count against a backend: every backend would be ejected by a local shortage.
 */
const LOCAL_FAILURES: ReadonlySet<string> = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'EADDRNOTAVAIL',
])

/** Whether `err` (or the error it wraps) is one of the proxy's own limits (see LOCAL_FAILURES). */
export function isLocalFailure(err: unknown): boolean {
  if (LOCAL_FAILURES.has(errorCode(err))) return true
  return err instanceof Error && err.cause !== undefined && LOCAL_FAILURES.has(errorCode(err.cause))
}

/** Narrow an unknown thrown value to a short code for logs (`ECONNREFUSED`, `HHP_ERR_*`, ...). */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code
    if (typeof c === 'string') return c
    if (typeof c === 'number') return String(c)
  }
  return 'UNKNOWN'
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
