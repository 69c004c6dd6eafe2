import type { ProbeResult, ProbeState } from './backend.js'

/**
 * Active health, as a pure function over a backend's ProbeState (docs/hung-backends.md).
 * `failures` failed probes in a row mark a backend down (no new connections; live ones are
 * untouched); `successes` good ones in a row bring it back. A single result never flips the state
 * both ways: a down backend needs the full run of successes, an up one the full run of failures.
 */

export type ProbeTransition = 'down' | 'up' | undefined

export interface ProbeThresholds {
  failures: number
  successes: number
}

/** Record one probe result; returns the transition it caused, if any. */
export function noteProbe(
  s: ProbeState,
  result: ProbeResult,
  cfg: ProbeThresholds,
): ProbeTransition {
  s.last = result
  if (result.ok) {
    s.ok++
    s.okStreak++
    s.failStreak = 0
    if (s.down && s.okStreak >= cfg.successes) {
      s.down = false
      return 'up'
    }
    return undefined
  }
  s.failed++
  s.failStreak++
  s.okStreak = 0
  if (!s.down && s.failStreak >= cfg.failures) {
    s.down = true
    return 'down'
  }
  return undefined
}

/** Probes stopped (turned off, or the kind changed): the backend is no longer held down by them. */
export function clearProbe(s: ProbeState): boolean {
  const wasDown = s.down
  s.down = false
  s.failStreak = 0
  s.okStreak = 0
  return wasDown
}
