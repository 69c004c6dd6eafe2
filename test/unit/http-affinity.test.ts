import v8 from 'node:v8'
import vm from 'node:vm'
import t from 'tap'
import { AffinityTable } from '../../src/http/affinity.js'
import type { BackendInfo } from '../../src/backends/backend.js'

const A: BackendInfo = { key: 'a:10001', host: 'a', port: 10001, source: 'static', path: 'cli' }
const B: BackendInfo = { key: 'b:10001', host: 'b', port: 10001, source: 'static', path: 'cli' }

function table(over: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = { now: 1_000 }
  const tab = new AffinityTable({
    ttlMs: over.ttlMs ?? 10_000,
    maxEntries: over.maxEntries ?? 100,
    now: () => clock.now,
  })
  return { tab, clock }
}

t.test('sessions and operations map to their backend; counts per backend', async (t) => {
  const { tab } = table()
  tab.learnSession('s1', A)
  tab.learnSession('s2', B)
  tab.learnOperation('o1', A, 's1')
  tab.learnOperation('o2', A, undefined)
  t.equal(tab.lookup('s1'), A)
  t.equal(tab.lookup('o1'), A)
  t.equal(tab.lookup('s2'), B)
  t.equal(tab.lookup('nope'), undefined)
  t.same(
    [...tab.counts()],
    [
      ['a:10001', { sessions: 1, operations: 2 }],
      ['b:10001', { sessions: 1, operations: 0 }],
    ],
  )
})

t.test('closing a session forgets its operations; closing an operation only itself', async (t) => {
  const { tab } = table()
  tab.learnSession('s1', A)
  tab.learnOperation('o1', A, 's1')
  tab.learnOperation('o2', A, 's1')
  tab.forget('o1')
  t.equal(tab.lookup('o1'), undefined)
  t.equal(tab.lookup('o2'), A)
  tab.forget('s1')
  t.equal(tab.lookup('o2'), undefined)
  t.equal(tab.size, 0)
})

t.test('idle entries expire after the TTL; use keeps them (and their session) alive', async (t) => {
  const { tab, clock } = table({ ttlMs: 100 })
  tab.learnSession('s1', A)
  tab.learnOperation('o1', A, 's1')
  tab.learnSession('s2', B)
  clock.now += 60
  t.equal(tab.lookup('o1'), A, 'the operation is used; its session counts as used too')
  clock.now += 60
  t.equal(tab.sweep(), 1, 's2 idle for 120 ms is swept')
  t.equal(tab.lookup('s2'), undefined)
  t.equal(tab.lookup('s1'), A)
  clock.now += 100
  t.equal(tab.lookup('s1'), undefined, 'a lookup never returns an expired entry')
  t.equal(tab.expired, 2)
})

t.test('the size bound evicts the longest idle first and counts it', async (t) => {
  const { tab, clock } = table({ maxEntries: 3 })
  // steps longer than the touch grain (min(1 s, ttl / 10) = 1 s here)
  for (const g of ['s1', 's2', 's3']) {
    tab.learnSession(g, A)
    clock.now += 1_000
  }
  tab.lookup('s1')
  tab.learnSession('s4', B)
  t.equal(tab.size, 3)
  t.equal(tab.lookup('s2'), undefined, 's2 was idle longest')
  t.equal(tab.lookup('s1'), A)
  t.equal(tab.evictions, 1)
})

t.test('uses closer together than the touch grain do not reorder the table', async (t) => {
  const { tab, clock } = table({ maxEntries: 2 })
  tab.learnSession('s1', A)
  clock.now += 500
  tab.learnSession('s2', A)
  clock.now += 400
  // 900 ms after it was learned: within the 1 s grain, s1 keeps its place (and its time)
  tab.lookup('s1')
  tab.learnSession('s3', B)
  t.equal(tab.lookup('s1'), undefined, 's1 counts as idle since it was learned: evicted')
  t.equal(tab.lookup('s2'), A)
})

t.test('a backend that left for good takes its handles with it', async (t) => {
  const { tab } = table()
  tab.learnSession('s1', A)
  tab.learnOperation('o1', A, 's1')
  tab.learnSession('s2', B)
  t.equal(tab.forgetBackend('a:10001'), 2)
  t.equal(tab.lookup('s1'), undefined)
  t.equal(tab.lookup('s2'), B)
})

t.test('10,000 sessions stay below 1 KiB each', async (t) => {
  // a memory bound, not a timing: heap growth after full collections
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  const before = process.memoryUsage().heapUsed
  const { tab } = table({ maxEntries: 20_000 })
  for (let i = 0; i < 10_000; i++) {
    const guid = i.toString(16).padStart(32, '0')
    tab.learnSession(guid, A)
    tab.learnOperation(`${guid}op`, A, guid)
  }
  gc()
  const per = (process.memoryUsage().heapUsed - before) / 10_000
  t.equal(tab.size, 20_000, 'the table is alive while measured')
  t.ok(per < 1024, `${Math.round(per)} bytes per session with one operation each`)
})
