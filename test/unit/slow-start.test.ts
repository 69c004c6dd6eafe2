import t from 'tap'
import {
  SLOW_START_MIN_WEIGHT,
  slowStartPool,
  slowStartWeight,
} from '../../src/balancing/slow-start.js'
import { POLICIES } from '../../src/balancing/policy.js'
import { seededRandom } from '../helpers/random.js'

t.test(
  'weight ramps linearly from a floor to 1 over slowStartMs; off and unknown are 1',
  async (t) => {
    t.equal(slowStartWeight(1000, 1000, 10_000), SLOW_START_MIN_WEIGHT)
    t.equal(slowStartWeight(1000, 6000, 10_000), 0.5)
    t.equal(slowStartWeight(1000, 11_000, 10_000), 1)
    t.equal(slowStartWeight(1000, 1000, 0), 1, '0 = off')
    t.equal(slowStartWeight(undefined, 1000, 10_000), 1, 'never came back: full share')
  },
)

t.test('no ramping candidate: the same list, no random draw', async (t) => {
  const pool = [
    { key: 'a', upSince: undefined },
    { key: 'b', upSince: 0 },
  ]
  t.equal(
    slowStartPool(pool, 50_000, 10_000, () => t.fail('no draw') as never),
    pool,
  )
})

t.test('never empty: a lone ramping backend still gets every client', async (t) => {
  const pool = [{ key: 'a', upSince: 1000 }]
  t.same(
    slowStartPool(pool, 1000, 10_000, () => 0.99),
    pool,
  )
})

for (const policy of ['round-robin', 'least-connections', 'random'] as const) {
  t.test(
    `${policy}: a recovered backend's share grows over slowStartMs to an even one`,
    async (t) => {
      const random = seededRandom(11)
      const slowStartMs = 10_000
      const shareAt = (age: number): number => {
        const pool = [
          { key: 'old', active: 0, upSince: undefined },
          { key: 'new', active: 0, upSince: 0 },
        ]
        let onNew = 0
        const n = 2000
        for (let i = 0; i < n; i++) {
          const cands = slowStartPool(pool, age, slowStartMs, random)
          const pick = cands[POLICIES[policy](cands, { counter: i, random })]!
          if (pick.key === 'new') onNew++
        }
        return onNew / n
      }
      const shares = [0, 2500, 5000, 7500, 10_000].map(shareAt)
      for (let i = 1; i < shares.length; i++)
        t.ok(shares[i]! > shares[i - 1]!, `share grows: ${shares.map((s) => s.toFixed(2))}`)
      t.ok(shares[0]! < 0.1, 'a trickle right after it came back')
      t.ok(Math.abs(shares[4]! - 0.5) < 0.05, 'an even share once ramped')
    },
  )
}
