import type { Hs2Policy } from '../config/types.js'

/** What a policy sees of a backend. */
export interface Candidate {
  key: string
  /** live proxied connections */
  active: number
}

/**
 * A policy picks one index from a non-empty candidate list. Pure: all state (the round-robin
 * counter, the random source) is passed in by the route.
 */
export type Policy = (candidates: readonly Candidate[], ctx: PickContext) => number

export interface PickContext {
  /** increases by one per pick on the route */
  counter: number
  /** uniform in [0, 1) */
  random: () => number
}

/** Uniform random: the Hive JDBC driver's behaviour. */
export const pickRandom: Policy = (c, ctx) =>
  Math.min(c.length - 1, Math.floor(ctx.random() * c.length))

/** Round-robin over the candidates in the order given (the route passes them sorted by key). */
export const pickRoundRobin: Policy = (c, ctx) => ctx.counter % c.length

/** Fewest live connections; ties broken round-robin so equal backends share the load. */
export const pickLeastConnections: Policy = (c, ctx) => {
  let min = Infinity
  for (const x of c) min = Math.min(min, x.active)
  const tied: number[] = []
  c.forEach((x, i) => {
    if (x.active === min) tied.push(i)
  })
  return tied[ctx.counter % tied.length] as number
}

export const POLICIES: Record<Hs2Policy, Policy> = {
  random: pickRandom,
  'round-robin': pickRoundRobin,
  'least-connections': pickLeastConnections,
}
