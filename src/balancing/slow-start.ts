/**
 * Slow start (docs/hung-backends.md): a backend that comes back (from ejection, from `down`, or
 * re-registered where its predecessor was ejected) gets its share of new connections ramped over
 * `slowStartMs`, so a restarted HiveServer2 is not hit by every waiting client at once. Pure
 * functions: the route passes the clock, the random source and when each backend came back.
 *
 * It works in front of any policy: for one pick, each ramping candidate stays in the pool with
 * probability = its weight, so round-robin and least-connections see it in that share of picks,
 * and random picks it with about that weight.
 */

/** the smallest weight: a just-recovered backend still gets a trickle (it proves it is back) */
export const SLOW_START_MIN_WEIGHT = 0.05

/** Weight in (0, 1] of a backend that came back at `upSince`; 1 when off, unknown or ramped. */
export function slowStartWeight(
  upSince: number | undefined,
  now: number,
  slowStartMs: number,
): number {
  if (slowStartMs <= 0 || upSince === undefined) return 1
  const age = now - upSince
  if (age >= slowStartMs) return 1
  return Math.max(SLOW_START_MIN_WEIGHT, age / slowStartMs)
}

/**
 * The candidates for one pick: each ramping one is kept with probability = its weight (one draw
 * of `random` per ramping candidate). Never empty: if every candidate was dropped, all are
 * returned. Returns `candidates` itself when none is ramping (the common case allocates nothing).
 */
export function slowStartPool<T extends { upSince?: number | undefined }>(
  candidates: readonly T[],
  now: number,
  slowStartMs: number,
  random: () => number,
): readonly T[] {
  if (slowStartMs <= 0) return candidates
  let ramping = false
  for (const c of candidates) {
    if (slowStartWeight(c.upSince, now, slowStartMs) < 1) {
      ramping = true
      break
    }
  }
  if (!ramping) return candidates
  const kept = candidates.filter((c) => {
    const w = slowStartWeight(c.upSince, now, slowStartMs)
    return w >= 1 || random() < w
  })
  return kept.length > 0 ? kept : candidates
}
