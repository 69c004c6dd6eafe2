import type { EjectionConfig } from '../config/types.js'
import type { BackendState } from './backend.js'

/**
 * Passive health, as pure functions over a BackendState. A backend whose connects fail
 * `failures` times in a row is skipped for baseMs * 2^(ejections) (capped at maxMs). The last
 * usable backend is never ejected: with nowhere else to go, trying it beats refusing the client.
 */

export function isEjected(b: BackendState, now: number): boolean {
  return b.ejectedUntil > now
}

export function ejectionMs(cfg: EjectionConfig, ejections: number): number {
  return Math.min(cfg.maxMs, cfg.baseMs * 2 ** Math.min(ejections, 30))
}

/**
 * Record a failed connect. `otherUsable` = listed, non-ejected backends other than `b`.
 * Returns the ejection length in ms when this failure ejected the backend, else 0.
 */
export function noteConnectFailure(
  b: BackendState,
  cfg: EjectionConfig,
  now: number,
  otherUsable: number,
  reason: string,
): number {
  b.connectFailures++
  b.consecutiveFailures++
  b.lastError = reason
  if (b.consecutiveFailures < cfg.failures || otherUsable === 0 || isEjected(b, now)) return 0
  const ms = ejectionMs(cfg, b.ejections)
  b.ejections++
  b.ejectedUntil = now + ms
  b.consecutiveFailures = 0
  return ms
}

/** A successful connect clears the failure streak and the ejection history. */
export function noteConnectSuccess(b: BackendState): void {
  b.consecutiveFailures = 0
  b.ejections = 0
  b.ejectedUntil = 0
}
