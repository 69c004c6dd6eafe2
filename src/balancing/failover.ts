import {
  AllBackendsFailedError,
  ErrorCodes,
  ProxyError,
  errorCode,
  errorMessage,
  type ConnectAttempt,
} from '../errors.js'
import type { BackendInfo } from '../backends/backend.js'

export interface FailoverPlan<S> {
  /** total connect attempts for this client connection */
  maxAttempts: number
  /**
   * Next backend to try, never one in `tried`; undefined when none is left. Asked again before
   * every attempt, so discovery changes between attempts are seen (as the JDBC driver re-reads ZooKeeper).
   */
  next(tried: ReadonlySet<string>): BackendInfo | undefined
  connect(b: BackendInfo): Promise<S>
  onFailure(b: BackendInfo, err: unknown): void
  /** give up early (client went away, route stopping) */
  aborted(): boolean
  /**
   * backends this client connection already used (first-answer failover calls again after a
   * stall); filled in here. They count toward `maxAttempts`.
   */
  tried?: Set<string>
  /**
   * Whether `err` may be failed over (default: always). A false answer rethrows `err` at once,
   * without `onFailure`: e.g. an HTTP request that reached its backend before failing.
   */
  retriable?(err: unknown): boolean
}

/**
 * Connect-time failover: each backend at most once per client connection, up to maxAttempts.
 * Rejects with HHP_ERR_NO_BACKEND when nothing was usable at all, else AllBackendsFailedError
 * listing every attempt.
 */
export async function connectWithFailover<S>(
  plan: FailoverPlan<S>,
): Promise<{ socket: S; backend: BackendInfo; attempts: ConnectAttempt[] }> {
  const tried = plan.tried ?? new Set<string>()
  const before = tried.size
  const attempts: ConnectAttempt[] = []
  let lastErr: unknown
  while (before + attempts.length < plan.maxAttempts && !plan.aborted()) {
    const b = plan.next(tried)
    if (b === undefined) break
    tried.add(b.key)
    try {
      const socket = await plan.connect(b)
      return { socket, backend: b, attempts }
    } catch (err) {
      if (plan.retriable !== undefined && !plan.retriable(err)) throw err
      lastErr = err
      attempts.push({ backend: b.key, code: errorCode(err), message: errorMessage(err) })
      plan.onFailure(b, err)
    }
  }
  if (attempts.length === 0)
    throw new ProxyError(ErrorCodes.NO_BACKEND, 'no usable backend', { retriable: true })
  throw new AllBackendsFailedError(attempts, lastErr)
}
