import t from 'tap'
import {
  pickLeastConnections,
  pickRandom,
  pickRoundRobin,
  type Candidate,
} from '../../src/balancing/policy.js'

const cands = (...active: number[]): Candidate[] =>
  active.map((a, i) => ({ key: `h${i}:10000`, active: a }))

t.test('random maps the random source uniformly onto the candidates', async (t) => {
  const c = cands(0, 0, 0, 0)
  const cases: [number, number][] = [
    [0, 0],
    [0.2499, 0],
    [0.25, 1],
    [0.5, 2],
    [0.9999, 3],
  ]
  for (const [r, want] of cases)
    t.equal(pickRandom(c, { counter: 0, random: () => r }), want, `random=${r}`)
  // a source that returns exactly 1 (out of contract) still yields a valid index
  t.equal(pickRandom(c, { counter: 0, random: () => 1 }), 3)
})

t.test('round-robin cycles in the given order', async (t) => {
  const c = cands(5, 0, 9)
  const picks = [0, 1, 2, 3, 4, 5].map((counter) => pickRoundRobin(c, { counter, random: () => 0 }))
  t.same(picks, [0, 1, 2, 0, 1, 2])
})

t.test('least-connections picks the minimum and spreads ties', async (t) => {
  t.equal(pickLeastConnections(cands(3, 1, 2), { counter: 0, random: () => 0 }), 1)
  const tiePicks = [0, 1, 2, 3].map((counter) =>
    pickLeastConnections(cands(1, 4, 1), { counter, random: () => 0 }),
  )
  t.same(tiePicks, [0, 2, 0, 2])
})
