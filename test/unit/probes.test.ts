import t from 'tap'
import { newProbeState, type BackendInfo, type ProbeResult } from '../../src/backends/backend.js'
import { clearProbe, noteProbe } from '../../src/backends/probe-health.js'
import { ProbeRunner, type Prober, type ProbeTimers } from '../../src/probes/runner.js'
import { getStatusCall, readGetStatusReply, type WireKind } from '../../src/thrift/fb303.js'
import { encodeMessage, MessageType, TType, type TProtocol } from '../helpers/hms-idl.js'

// ---- the policy: streaks -> down / up -----------------------------------------------------------

const result = (ok: boolean, at = 0): ProbeResult => ({ ok, at, ms: 1, detail: ok ? 'ALIVE' : 'x' })

t.test('failures in a row mark down, successes in a row bring it back', async (t) => {
  const s = newProbeState()
  const cfg = { failures: 3, successes: 2 }
  t.equal(noteProbe(s, result(false), cfg), undefined)
  t.equal(noteProbe(s, result(false), cfg), undefined)
  t.equal(noteProbe(s, result(true), cfg), undefined, 'a success breaks the failure streak')
  t.equal(s.failStreak, 0)
  t.equal(noteProbe(s, result(false), cfg), undefined)
  t.equal(noteProbe(s, result(false), cfg), undefined)
  t.equal(noteProbe(s, result(false), cfg), 'down', 'the third failure in a row')
  t.ok(s.down)
  t.equal(noteProbe(s, result(false), cfg), undefined, 'already down: no second transition')
  t.equal(noteProbe(s, result(true), cfg), undefined, 'one success is not enough')
  t.equal(noteProbe(s, result(false), cfg), undefined, 'a failure restarts the success streak')
  t.equal(noteProbe(s, result(true), cfg), undefined)
  t.equal(noteProbe(s, result(true), cfg), 'up')
  t.notOk(s.down)
  t.equal(noteProbe(s, result(true), cfg), undefined, 'already up')
  t.same([s.ok, s.failed], [5, 7])
  t.same(s.last, result(true))
})

t.test('failures: 1 and successes: 1 flip on every change', async (t) => {
  const s = newProbeState()
  const cfg = { failures: 1, successes: 1 }
  t.same(
    [false, false, true, true, false].map((ok) => noteProbe(s, result(ok), cfg)),
    ['down', undefined, 'up', undefined, 'down'],
  )
})

t.test('clearProbe releases a down backend and says whether it was down', async (t) => {
  const s = newProbeState()
  noteProbe(s, result(false), { failures: 1, successes: 1 })
  t.equal(clearProbe(s), true)
  t.notOk(s.down)
  t.equal(clearProbe(s), false)
})

// ---- the runner: fixed rate, timeout, one prober per backend ------------------------------------

/** Manual timers: `advance(ms)` fires what is due, in order. */
function fakeClock(): ProbeTimers & { now(): number; advance(ms: number): Promise<void> } {
  let now = 0
  let seq = 0
  const due = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq
      due.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (h) => void due.delete(h as number),
    async advance(ms) {
      const end = now + ms
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined
        for (const e of due)
          if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e
        if (next === undefined) break
        due.delete(next[0])
        now = next[1].at
        next[1].fn()
        // let probe promises settle before the next timer
        for (let i = 0; i < 5; i++) await Promise.resolve()
      }
      now = end
    },
  }
}

const backend = (key: string): BackendInfo => ({
  key,
  host: '127.0.0.1',
  port: 1,
  source: 'static',
})

/** A prober whose answer the test controls: 'ok', 'fail', or 'hang' (never settles). */
function scriptedProber(mode: { now: 'ok' | 'fail' | 'hang' }) {
  const stats = { probes: 0, closes: 0 }
  const prober: Prober = {
    probe: () => {
      stats.probes++
      if (mode.now === 'ok') return Promise.resolve('ALIVE')
      if (mode.now === 'fail') return Promise.reject(new Error('refused'))
      return new Promise(() => {})
    },
    close: () => void stats.closes++,
  }
  return { prober, stats }
}

t.test('fixed rate: a probe starts every interval, the first at once', async (t) => {
  const clock = fakeClock()
  const mode = { now: 'ok' as 'ok' | 'fail' | 'hang' }
  const { prober, stats } = scriptedProber(mode)
  const results: [string, ProbeResult][] = []
  const runner = new ProbeRunner(
    { intervalMs: 100, timeoutMs: 30 },
    {
      now: clock.now,
      timers: clock,
      proberFor: () => prober,
      onResult: (k, r) => results.push([k, r]),
    },
  )
  runner.sync([backend('a:1')])
  await clock.advance(1000)
  t.equal(stats.probes, 0, 'nothing before start()')
  runner.start()
  await clock.advance(0)
  t.equal(stats.probes, 1, 'first probe at once')
  await clock.advance(950)
  t.equal(stats.probes, 10, 'one per 100 ms')
  t.ok(results.every(([k, r]) => k === 'a:1' && r.ok && r.detail === 'ALIVE'))
  t.equal(stats.closes, 0, 'a healthy prober is kept (its connection is reused)')
  runner.stop()
  await clock.advance(1000)
  t.equal(stats.probes, 10, 'nothing after stop()')
  t.equal(stats.closes, 1, 'stop closes the prober')
})

t.test('a hung probe fails at the timeout, its prober is closed, the rate holds', async (t) => {
  const clock = fakeClock()
  const mode = { now: 'hang' as 'ok' | 'fail' | 'hang' }
  const { prober, stats } = scriptedProber(mode)
  const results: ProbeResult[] = []
  const runner = new ProbeRunner(
    { intervalMs: 100, timeoutMs: 30 },
    {
      now: clock.now,
      timers: clock,
      proberFor: () => prober,
      onResult: (_k, r) => results.push(r),
    },
  )
  runner.start()
  runner.sync([backend('a:1')])
  await clock.advance(250)
  t.same(
    results.map((r) => [r.ok, r.at, r.ms, r.detail]),
    [
      [false, 30, 30, 'no answer within 30 ms'],
      [false, 130, 30, 'no answer within 30 ms'],
      [false, 230, 30, 'no answer within 30 ms'],
    ],
  )
  t.equal(stats.closes, 3, 'closed after each failure (it reconnects on the next probe)')
  mode.now = 'fail'
  await clock.advance(100)
  t.same(results.at(-1)?.detail, 'refused', 'a rejected probe carries its reason')
  t.equal(stats.closes, 3, 'a rejected probe leaves the connection to its prober')
  runner.stop()
})

t.test('sync adds and drops backends; refresh asks proberFor again', async (t) => {
  const clock = fakeClock()
  const made: string[] = []
  const closed: string[] = []
  let offer = true
  const runner = new ProbeRunner(
    { intervalMs: 100, timeoutMs: 30 },
    {
      now: clock.now,
      timers: clock,
      proberFor: (b) => {
        if (!offer) return undefined
        made.push(b.key)
        return { probe: async () => 'ok', close: () => void closed.push(b.key) }
      },
      onResult: () => {},
    },
  )
  runner.start()
  runner.sync([backend('a:1'), backend('b:1')])
  runner.sync([backend('b:1'), backend('c:1')])
  t.same(made, ['a:1', 'b:1', 'c:1'], 'a kept backend keeps its prober')
  t.same(closed, ['a:1'])
  t.equal(runner.size, 2)
  offer = false
  runner.refresh()
  t.equal(runner.size, 0, 'no prober offered: nothing probed')
  offer = true
  runner.refresh()
  t.equal(runner.size, 2)
  runner.stop()
})

t.test('a probe that settles after its timeout is not counted twice', async (t) => {
  const clock = fakeClock()
  let settle: ((v: string) => void) | undefined
  const results: ProbeResult[] = []
  const runner = new ProbeRunner(
    { intervalMs: 100, timeoutMs: 30 },
    {
      now: clock.now,
      timers: clock,
      proberFor: () => ({
        probe: () => new Promise<string>((r) => (settle = r)),
        close: () => {},
      }),
      onResult: (_k, r) => results.push(r),
    },
  )
  runner.start()
  runner.sync([backend('a:1')])
  await clock.advance(40)
  settle?.('late')
  await clock.advance(10)
  t.same(
    results.map((r) => r.ok),
    [false],
  )
  runner.stop()
})

// ---- fb303 getStatus codec, against the thrift package's own protocols -------------------------

const KINDS: WireKind[] = [
  { protocol: 'binary', framed: false },
  { protocol: 'binary', framed: true },
  { protocol: 'compact', framed: false },
  { protocol: 'compact', framed: true },
]

for (const kind of KINDS) {
  const name = `${kind.protocol}${kind.framed ? ' framed' : ''}`
  t.test(`${name}: getStatus call and its answers`, async (t) => {
    const wire = { protocol: kind.protocol, framed: kind.framed }
    const call = getStatusCall(kind, 7)
    const expected = encodeMessage(wire, (p: TProtocol) => {
      p.writeMessageBegin('getStatus', MessageType.CALL, 7)
      p.writeStructBegin('getStatus_args')
      p.writeFieldStop()
      p.writeStructEnd()
      p.writeMessageEnd()
      p.flush()
    })
    t.same([...call], [...expected], 'the call is what the thrift package writes')

    const reply = (status: number, seqid = 7, extra = false): Buffer =>
      encodeMessage(wire, (p: TProtocol) => {
        p.writeMessageBegin('getStatus', MessageType.REPLY, seqid)
        p.writeStructBegin('getStatus_result')
        if (extra) {
          // an unknown field first: skipped
          p.writeFieldBegin('x', TType.LIST, 9)
          p.writeListBegin(TType.STRING, 2)
          p.writeString('a')
          p.writeString('b')
          p.writeListEnd()
          p.writeFieldEnd()
        }
        p.writeFieldBegin('success', TType.I32, 0)
        p.writeI32(status)
        p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()
        p.writeMessageEnd()
        p.flush()
      })
    const alive = reply(2, -5, true)
    t.same(readGetStatusReply(alive, kind), {
      state: 'reply',
      seqid: -5,
      status: 2,
      bytes: alive.length,
    })
    t.match(readGetStatusReply(reply(4), kind), { state: 'reply', status: 4 })
    const two = Buffer.concat([reply(2), reply(3)])
    const first = readGetStatusReply(two, kind)
    t.equal(first.state === 'reply' && first.bytes, reply(2).length, 'bytes of one message')
    for (let n = 0; n < alive.length; n++)
      t.same(
        readGetStatusReply(alive.subarray(0, n), kind).state,
        'more',
        `${n} of ${alive.length} bytes: more`,
      )
    const exc = encodeMessage(wire, (p: TProtocol) => {
      p.writeMessageBegin('getStatus', MessageType.EXCEPTION, 7)
      p.writeStructBegin('TApplicationException')
      p.writeFieldBegin('message', TType.STRING, 1)
      p.writeString('Invalid method name')
      p.writeFieldEnd()
      p.writeFieldBegin('type', TType.I32, 2)
      p.writeI32(1)
      p.writeFieldEnd()
      p.writeFieldStop()
      p.writeStructEnd()
      p.writeMessageEnd()
      p.flush()
    })
    t.match(readGetStatusReply(exc, kind), {
      state: 'exception',
      seqid: 7,
      message: 'Invalid method name',
    })
    t.match(
      readGetStatusReply(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), kind),
      { state: 'bad' },
      'not Thrift: bad, never a throw',
    )
  })
}

// ---- check says what each route will probe ------------------------------------------------------

t.test('check names the probe of each route, with its timing', async (t) => {
  const { describeConfig } = await import('../../src/check.js')
  const { DEFAULTS } = await import('../../src/defaults.js')
  const { hs2Route, metastoreRoute } = await import('../helpers/proxy.js')
  const target = { kind: 'static' as const, backends: [{ host: 'h', port: 1 }] }
  const text = describeConfig(
    {
      logLevel: 'info',
      logFormat: 'auto',
      shutdownGraceMs: 1000,
      zookeeper: { ...DEFAULTS.zookeeper },
      hs2: [
        hs2Route(target, { name: 'bin', healthCheck: { ...DEFAULTS.hs2.healthCheck } }),
        hs2Route(target, {
          name: 'http',
          transportMode: 'http',
          listen: { host: '127.0.0.1', port: 1 },
          healthCheck: { ...DEFAULTS.hs2.healthCheck },
        }),
      ],
      metastore: [
        metastoreRoute(target, { healthCheck: { ...DEFAULTS.metastore.healthCheck } }),
        metastoreRoute(target, {
          name: 'tcp',
          listen: { host: '127.0.0.1', port: 2 },
          healthCheck: { ...DEFAULTS.metastore.healthCheck, probe: 'tcp' },
        }),
      ],
      admin: { listen: { host: '127.0.0.1', port: 3 }, token: undefined },
    },
    ['defaults'],
  )
  t.match(text, 'no active probe (healthCheck.probe tcp asks for one)')
  t.match(
    text,
    'probes every 5000 ms: OPTIONS on the servlet path over one kept-alive connection; down after 3 failures in a row (timeout 2000 ms), up after 2 successes',
  )
  t.match(text, 'fb303 getStatus over one kept connection, once plain Thrift clients were answered')
  t.match(text, 'a TCP connect and close (a SASL server logs each one)')
})

t.test('a probe connection that completes after close() is destroyed, never kept', async (t) => {
  const net = await import('node:net')
  const { ThriftProber } = await import('../../src/probes/thrift-probe.js')
  const { dialTcp } = await import('../../src/net/dial.js')
  const closed: Promise<void>[] = []
  const server = net.createServer((s) => {
    closed.push(new Promise((r) => s.once('close', () => r())))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as import('node:net').AddressInfo).port
  let release: (() => void) | undefined
  const gate = new Promise<void>((r) => (release = r))
  const prober = new ThriftProber({
    host: '127.0.0.1',
    port,
    key: `127.0.0.1:${port}`,
    kind: { protocol: 'binary', framed: false },
    connectTimeoutMs: 1000,
    // the connect finishes only when the test says so
    dial: async (o) => {
      const s = await dialTcp(o)
      await gate
      return s
    },
  })
  const probe = prober.probe()
  prober.close()
  release?.()
  await t.rejects(probe, { code: 'HHP_ERR_PROBE', message: /closed while connecting/ })
  t.equal(await waitClosed(closed), true, 'the connection was closed by the prober')
  t.equal(closed.length, 1, 'one connection')
})

/** true once every accepted connection has closed; false after 2 s */
async function waitClosed(closed: Promise<void>[]): Promise<boolean> {
  for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  return Promise.race([
    Promise.all(closed).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ])
}

t.test(
  'renew replaces the probers of changed backends at the next sync, others are kept',
  async (t) => {
    const clock = fakeClock()
    const made: string[] = []
    const closed: string[] = []
    const runner = new ProbeRunner(
      { intervalMs: 100, timeoutMs: 30 },
      {
        now: clock.now,
        timers: clock,
        proberFor: (b) => {
          made.push(`${b.key}${b.path ?? ''}`)
          return { probe: async () => 'ok', close: () => void closed.push(b.key) }
        },
        onResult: () => {},
      },
    )
    runner.start()
    runner.sync([backend('a:1'), backend('b:1')])
    runner.renew(['b:1'])
    runner.sync([backend('a:1'), { ...backend('b:1'), path: '/new' }])
    t.same(made, ['a:1', 'b:1', 'b:1/new'])
    t.same(closed, ['b:1'])
    runner.stop()
  },
)
