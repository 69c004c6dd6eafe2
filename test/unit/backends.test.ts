import t from 'tap'
import { BackendSet } from '../../src/backends/backend-set.js'
import { backendKey, type BackendInfo } from '../../src/backends/backend.js'
import {
  ejectionMs,
  isEjected,
  noteAnswered,
  noteConnectFailure,
  noteConnectSuccess,
  noteStall,
} from '../../src/backends/ejection.js'

const b = (host: string, port = 10000, leader?: boolean): BackendInfo => ({
  key: backendKey(host, port),
  host,
  port,
  source: `serverUri=${host}:${port}`,
  ...(leader === undefined ? {} : { leader }),
})
const cfg = { failures: 2, baseMs: 100, maxMs: 350 }

t.test('backendKey brackets IPv6 hosts', async (t) => {
  t.equal(backendKey('h', 1), 'h:1')
  t.equal(backendKey('::1', 2), '[::1]:2')
  t.equal(backendKey('[::1]', 2), '[::1]:2')
})

t.test('reset diffs and keeps state of surviving keys', async (t) => {
  const set = new BackendSet()
  t.same(set.reset([b('a'), b('b')]), { added: ['a:10000', 'b:10000'], removed: [], changed: [] })
  set.get('a:10000')!.connections = 7
  const r = set.reset([b('a'), b('c')])
  t.same(r, { added: ['c:10000'], removed: ['b:10000'], changed: [] })
  t.equal(set.get('a:10000')!.connections, 7, 'counters survive')
  t.equal(set.get('b:10000'), undefined, 'idle removed backend is forgotten')
  t.same(
    set.listed().map((x) => x.key),
    ['a:10000', 'c:10000'],
  )
})

t.test('a removed backend with live connections stays unlisted until released', async (t) => {
  const set = new BackendSet()
  set.reset([b('a'), b('b')])
  set.get('b:10000')!.active = 1
  set.reset([b('a')])
  t.equal(set.get('b:10000')!.listed, false)
  t.same(
    set.listed().map((x) => x.key),
    ['a:10000'],
  )
  set.release('b:10000')
  t.equal(set.get('b:10000'), undefined)
})

t.test('a backend coming back is reported as added; a leader flip as changed', async (t) => {
  const set = new BackendSet()
  set.reset([b('a', 1, true)])
  t.same(set.reset([b('a', 1, false)]).changed, ['a:1'])
  set.get('a:1')!.active = 1
  set.reset([])
  t.same(set.reset([b('a', 1, false)]).added, ['a:1'])
})

t.test('a changed published principal is a change, and the new one is kept', async (t) => {
  const set = new BackendSet()
  const krb = (principal: string): BackendInfo => ({
    ...b('a'),
    authentication: 'KERBEROS',
    principal,
  })
  set.reset([krb('hive/_HOST@R')])
  t.same(set.reset([krb('hive/_HOST@R')]).changed, [], 'same principal: no change')
  t.same(set.reset([krb('hive/shared@R')]).changed, ['a:10000'])
  t.equal(set.get('a:10000')!.principal, 'hive/shared@R')
  t.equal(set.get('a:10000')!.authentication, 'KERBEROS')
})

t.test('ejection after N consecutive failures, growing and capped', async (t) => {
  const set = new BackendSet()
  set.reset([b('a')])
  const a = set.get('a:10000')!
  t.equal(noteConnectFailure(a, cfg, 1000, 1, 'ECONNREFUSED'), 0, 'first failure does not eject')
  t.equal(noteConnectFailure(a, cfg, 1000, 1, 'ECONNREFUSED'), 100, 'second ejects for base')
  t.equal(a.upSince, 1100, 'slow start ramps from the end of the ejection')
  t.ok(isEjected(a, 1099))
  t.notOk(isEjected(a, 1100))
  noteConnectFailure(a, cfg, 1200, 1, 'x')
  t.equal(noteConnectFailure(a, cfg, 1200, 1, 'x'), 200, 'doubles')
  noteConnectFailure(a, cfg, 2000, 1, 'x')
  t.equal(noteConnectFailure(a, cfg, 2000, 1, 'x'), 350, 'capped')
  t.equal(a.connectFailures, 6)
  t.equal(a.lastError, 'x')
  noteConnectSuccess(a)
  t.equal(a.ejections, 0)
  t.equal(a.ejectedUntil, 0)
  t.equal(ejectionMs(cfg, 40), 350, 'huge counts stay finite')
})

t.test('the last usable backend is never ejected', async (t) => {
  const set = new BackendSet()
  set.reset([b('a')])
  const a = set.get('a:10000')!
  for (let i = 0; i < 5; i++) t.equal(noteConnectFailure(a, cfg, 1000, 0, 'ECONNREFUSED'), 0)
  t.notOk(isEjected(a, 1000))
})

t.test('a success resets the failure streak', async (t) => {
  const set = new BackendSet()
  set.reset([b('a')])
  const a = set.get('a:10000')!
  noteConnectFailure(a, cfg, 0, 1, 'x')
  noteConnectSuccess(a)
  t.equal(noteConnectFailure(a, cfg, 0, 1, 'x'), 0)
})

t.test(
  'stalls eject like connect failures, counted apart, and keep growing across connects',
  async (t) => {
    const set = new BackendSet()
    set.reset([b('a')])
    const a = set.get('a:10000')!
    t.equal(noteStall(a, cfg, 1000, 1), 0, 'first stall does not eject')
    t.equal(noteStall(a, cfg, 1000, 1), 100, 'second ejects for base')
    t.same([a.stalls, a.connectFailures, a.lastError], [2, 0, 'stalled'])
    // a hung server still accepts connects: that must not reset the back-off
    noteConnectSuccess(a)
    noteStall(a, cfg, 1200, 1)
    t.equal(noteStall(a, cfg, 1200, 1), 200, 'doubles')
    noteConnectSuccess(a)
    t.equal(a.ejections, 2, 'connect success on a stall streak keeps the history')
    t.equal(noteStall(a, cfg, 2000, 0), 0, 'the last usable backend is never ejected')
    noteAnswered(a)
    t.equal(a.consecutiveStalls, 0, 'an answer ends the streak')
    t.equal(noteStall(a, cfg, 3000, 1), 0)
    noteAnswered(a)
    noteConnectSuccess(a)
    t.equal(a.ejections, 0, 'after an answer a connect clears the history as before')
  },
)
