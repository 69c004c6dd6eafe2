import type { MetastoreSelection } from '../config/types.js'

/**
 * The order in which one client connection tries metastores (hive-ha-semantics.md §4.2–4.4),
 * as a pure function:
 * - SEQUENTIAL: configured order, every time (traffic returns to the first URI once it is back);
 * - RANDOM: a fresh uniform shuffle per client connection (Fisher–Yates over `random`).
 * On a reconnect within one client connection the backend that just failed goes last, so the
 * next live one is tried first; Hive's RANDOM likewise never re-picks the previous head first.
 */
export function metastoreOrder<T extends { key: string }>(
  listed: readonly T[],
  selection: MetastoreSelection,
  random: () => number,
): T[] {
  const out = [...listed]
  if (selection === 'RANDOM') {
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)))
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
  }
  return out
}

/** `order` with `lastKey` moved to the end (no-op when absent). */
export function demote<T extends { key: string }>(
  order: readonly T[],
  lastKey: string | undefined,
): T[] {
  if (lastKey === undefined) return [...order]
  return [...order.filter((b) => b.key !== lastKey), ...order.filter((b) => b.key === lastKey)]
}
