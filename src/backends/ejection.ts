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
  if (b.consecutiveFailures < cfg.failures) return 0
  const ms = eject(b, cfg, now, otherUsable)
  if (ms > 0) b.consecutiveFailures = 0
  return ms
}

/**
 * Record a stall: the backend accepted a connection and sent nothing within the first-response
 * timeout (a hung server: a GC pause, a full worker pool). Counted apart from connect failures,
 * with the same ejection settings and back-off. Returns the ejection length in ms, else 0.
 */
export function noteStall(
  b: BackendState,
  cfg: EjectionConfig,
  now: number,
  otherUsable: number,
): number {
  b.stalls++
  b.consecutiveStalls++
  b.hung = true
  b.lastError = 'stalled'
  if (b.consecutiveStalls < cfg.failures) return 0
  const ms = eject(b, cfg, now, otherUsable)
  if (ms > 0) b.consecutiveStalls = 0
  return ms
}

function eject(b: BackendState, cfg: EjectionConfig, now: number, otherUsable: number): number {
  if (otherUsable === 0 || isEjected(b, now)) return 0
  const ms = ejectionMs(cfg, b.ejections)
  b.ejections++
  b.ejectedUntil = now + ms
  b.upSince = now + ms
  return ms
}

/**
 * A successful connect clears the failure streak and, unless the backend's last outcome was a
 * stall (a hung server still connects fine: its ejections must keep growing), the ejection history.
 */
export function noteConnectSuccess(b: BackendState): void {
  b.consecutiveFailures = 0
  if (b.hung) return
  b.ejections = 0
  b.ejectedUntil = 0
}

/** The backend's first byte arrived on a connection: it is not hung; the stall streak ends. */
export function noteAnswered(b: BackendState): void {
  b.consecutiveStalls = 0
  b.hung = false
}
