import t, { type Test } from 'tap'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import type { Hs2RouteConfig } from '../../src/config/types.js'
import { DEFAULTS } from '../../src/defaults.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import type { Hs2HttpRouteSnapshot } from '../../src/routes/hs2-http-route.js'
import { HttpHiveSession } from '../helpers/hive-http-client.js'
import { startHs2HttpStub, type Hs2HttpStub } from '../helpers/hs2-http-stub.js'
import { decodeHs2Reply, encodeHs2Call, T } from '../helpers/hs2-wire.js'
import {
  startHangableRelay,
  startHungStub,
  type HangableRelay,
  type HungMode,
  type HungStub,
} from '../helpers/hung-stub.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'

// Stalls on HS2 HTTP routes (docs/hung-backends.md, docs/http-routes.md): a request without
// response headers within firstResponseTimeoutMs counts a stall against its backend; an
// OpenSession that heard nothing moves on, any other call gets the lost-session answer and its
// session stays where it is. Backends are a static list (the order is the policy's input).

const TIMEOUT = 300

async function healthy(t: Test, id: string): Promise<Hs2HttpStub> {
  const s = await startHs2HttpStub({ id })
  t.teardown(() => s.close())
  return s
}
async function hung(t: Test, mode: HungMode = { kind: 'silent' }): Promise<HungStub> {
  const s = await startHungStub(mode)
  t.teardown(() => s.close())
  return s
}
async function relayTo(t: Test, s: Hs2HttpStub): Promise<HangableRelay> {
  const r = await startHangableRelay(s)
  t.teardown(() => r.close())
  return r
}

async function proxyFor(
  t: Test,
  backends: { port: number }[],
  over: Partial<Hs2RouteConfig> = {},
): Promise<{
  proxy: HiveHaProxy
  port: number
  logs: Awaited<ReturnType<typeof startTestProxy>>['logs']
}> {
  const { proxy, ports, logs } = await startTestProxy(t, [
    hs2Route(
      { kind: 'static', backends: backends.map((b) => ({ host: '127.0.0.1', port: b.port })) },
      {
        transportMode: 'http',
        http: { ...DEFAULTS.hs2.http },
        policy: 'round-robin',
        firstResponseTimeoutMs: TIMEOUT,
        ...over,
      },
    ),
  ])
  await waitFor('ready', () => proxy.ready)
  return { proxy, port: ports[0]!, logs }
}

const route = (p: HiveHaProxy): Hs2HttpRouteSnapshot =>
  p.snapshot().routes[0] as Hs2HttpRouteSnapshot
const backendOf = (p: HiveHaProxy, port: number) =>
  route(p).backends.find((b) => b.key === `127.0.0.1:${port}`)!

t.test(
  'OpenSession moves from a hung instance to a healthy one; every session works',
  async (t) => {
    const h = await hung(t)
    const ok = await healthy(t, 'ok')
    // failures 10: no ejection here, OpenSessions keep meeting the hung one in their turn
    const { proxy, port, logs } = await proxyFor(t, [h, ok], {
      ejection: { failures: 10, baseMs: 60_000, maxMs: 120_000 },
    })
    const sessions: HttpHiveSession[] = []
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now()
      const s = await HttpHiveSession.open({ port, timeoutMs: 5000 })
      t.ok(Date.now() - t0 < TIMEOUT + 2000, `session ${i} opened within the timeout and a bit`)
      sessions.push(s)
    }
    for (const s of sessions) t.equal(await s.query(), 'ok', 'the session lives on the healthy one')
    for (const s of sessions) await s.close()
    t.ok(h.connections >= 1, 'round-robin sent OpenSession to the hung one')
    t.ok(h.bytesReceived > 0, 'the hung one read the request')
    const hb = backendOf(proxy, h.port)
    t.ok(hb.stalls >= 1, `stalls counted (${hb.stalls})`)
    t.equal(hb.connectFailures, 0, 'not as connect failures')
    t.equal(hb.lastError, 'stalled')
    t.equal(hb.active, 0, 'nothing in flight left counted')
    t.equal(ok.sessions, 3, 'three sessions opened on the healthy one')
    t.equal(ok.invalid, 0)
    t.match(route(proxy).http.requests, { 'OpenSession ok': 3 })
    t.ok(
      logs
        .messages()
        .includes(
          'backend sent no response headers in time (hung?); sending the request to another',
        ),
    )
  },
)

t.test(
  'a hung instance is ejected after N stalls; stalls apart in /routes and metrics',
  async (t) => {
    const h = await hung(t)
    const ok = await healthy(t, 'ok')
    const { proxy, port, logs } = await proxyFor(t, [h, ok], {
      ejection: { failures: 2, baseMs: 60_000, maxMs: 120_000 },
    })
    for (let i = 0; i < 6; i++) {
      const s = await HttpHiveSession.open({ port, timeoutMs: 5000 })
      t.equal(await s.query(), 'ok')
      await s.close()
    }
    const hb = backendOf(proxy, h.port)
    t.equal(hb.state, 'ejected')
    t.equal(hb.stalls, 2, 'ejected after the second stall; no request met it afterwards')
    t.equal(hb.connectFailures, 0)
    t.ok(logs.messages().includes('backend ejected'))
    const text = await new ProxyMetrics(() => proxy.snapshot()).text()
    t.match(
      text,
      `hive_ha_proxy_stalls_total{route="hs2",backend="127.0.0.1:${h.port}"} 2`,
      'stalls in the metrics',
    )
    t.match(
      text,
      `hive_ha_proxy_connect_failures_total{route="hs2",backend="127.0.0.1:${h.port}"} 0`,
      'apart from connect failures',
    )
  },
)

t.test('an OpenSession whose answer had begun is not re-sent: 502, stall counted', async (t) => {
  const h = await hung(t, { kind: 'prefix', bytes: Buffer.from('HTTP/1.1 200 OK\r\n') })
  const ok = await healthy(t, 'ok')
  const { proxy, port } = await proxyFor(t, [h, ok])
  const body = encodeHs2Call('OpenSession', new T.TOpenSessionReq({ client_protocol: 9 }))
  // round-robin: one of the first two OpenSessions meets the stub that begins an answer
  for (let i = 0; i < 2 && backendOf(proxy, h.port).stalls === 0; i++) {
    const okBefore = ok.calls.get('OpenSession') ?? 0
    const t0 = Date.now()
    const res = await fetch(`http://127.0.0.1:${port}/cliservice`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-thrift' },
      signal: AbortSignal.timeout(5000),
    })
    const text = await res.text()
    if (res.status === 200) continue
    t.ok(Date.now() - t0 < TIMEOUT + 2000, 'answered within the timeout and a bit')
    t.equal(res.status, 502)
    t.match(
      text,
      /HHP_ERR_BACKEND_STALLED: HiveServer2 127\.0\.0\.1:\d+ sent no response headers within 300 ms/,
    )
    t.equal(ok.calls.get('OpenSession') ?? 0, okBefore, 'not re-sent to the healthy one')
  }
  t.equal(backendOf(proxy, h.port).stalls, 1)
  t.match(route(proxy).http.requests, { 'OpenSession backend_failed': 1 })
})

t.test('an OpenSession that every server leaves unanswered gets 503', async (t) => {
  const h1 = await hung(t)
  const h2 = await hung(t)
  const { proxy, port } = await proxyFor(t, [h1, h2])
  const r = await call(port, 'OpenSession', new T.TOpenSessionReq({ client_protocol: 9 }))
  t.equal(r.status, 503)
  t.ok(r.ms >= 2 * TIMEOUT - 20 && r.ms < 2 * TIMEOUT + 1500, `each server once (${r.ms} ms)`)
  // each got the call once (undici opens a spare connection after an abort; it carries nothing)
  t.ok(h1.bytesReceived > 0)
  t.equal(h2.bytesReceived, h1.bytesReceived)
  t.equal(backendOf(proxy, h1.port).stalls, 1)
  t.equal(backendOf(proxy, h2.port).stalls, 1)
  t.match(route(proxy).http.requests, { 'OpenSession no_backend': 1 })
})

t.test(
  "a call whose session's server stalls gets the lost-session error promptly; the session does not move",
  async (t) => {
    const a = await healthy(t, 'a')
    const b = await healthy(t, 'b')
    const ra = await relayTo(t, a)
    const { proxy, port, logs } = await proxyFor(t, [ra, b], {
      ejection: { failures: 2, baseMs: 60_000, maxMs: 120_000 },
    })
    // round-robin: one of the first two sessions goes to the relay in front of a
    let s = await HttpHiveSession.open({ port, timeoutMs: 5000 })
    if ((await s.query()) !== 'a') {
      await s.close()
      s = await HttpHiveSession.open({ port, timeoutMs: 5000 })
    }
    t.equal(await s.query(), 'a')
    const bExec = b.calls.get('ExecuteStatement') ?? 0
    ra.hang()
    const t0 = Date.now()
    await t.rejects(
      s.query(),
      /HHP_ERR_SESSION_LOST: the session [0-9a-f]{32} lives on HiveServer2 127\.0\.0\.1:\d+, which is not answering \(no response headers within 300 ms/,
    )
    const took = Date.now() - t0
    t.ok(took >= TIMEOUT - 20 && took < TIMEOUT + 1500, `answered after the timeout (${took} ms)`)
    t.ok(ra.swallowed > 0, 'the call reached the hung server')
    t.equal(b.calls.get('ExecuteStatement') ?? 0, bExec, 'never moved to the other server')
    t.equal(b.invalid, 0)
    t.ok(logs.messages().includes('request for a lost session answered with an error'))
    // a second stall ejects it; the next call is answered at once, naming why
    await t.rejects(s.query(), /HHP_ERR_SESSION_LOST/)
    t.equal(backendOf(proxy, ra.port).state, 'ejected')
    const t1 = Date.now()
    await t.rejects(
      s.query(),
      /HHP_ERR_SESSION_LOST: .* which is ejected after requests it left unanswered/,
    )
    t.ok(Date.now() - t1 < TIMEOUT, 'prompt once ejected')
    s.end()
    t.ok(route(proxy).http.affinity.lostSessions >= 3)
    t.equal(backendOf(proxy, ra.port).stalls, 2)
    // a new session goes to the healthy server
    const fresh = await HttpHiveSession.open({ port, timeoutMs: 5000 })
    t.equal(await fresh.query(), 'b')
    await fresh.close()
  },
)

t.test('firstResponseTimeoutMs 0: no stall timer on an HTTP route', async (t) => {
  const a = await healthy(t, 'a')
  const ra = await relayTo(t, a)
  const { proxy, port } = await proxyFor(t, [ra], { firstResponseTimeoutMs: 0 })
  const s = await HttpHiveSession.open({ port, timeoutMs: 1000 })
  ra.hang()
  await t.rejects(s.query(), /timed out after 1000 ms/, 'the client waits; the proxy does not cut')
  s.end()
  t.equal(backendOf(proxy, ra.port).stalls, 0)
})

/** One Thrift call as a raw POST; resolves the decoded reply and how long it took. */
async function call(
  port: number,
  method: string,
  req: unknown,
): Promise<{ status: number; ms: number; resp?: Record<string, unknown>; error?: unknown }> {
  const t0 = Date.now()
  const res = await fetch(`http://127.0.0.1:${port}/cliservice`, {
    method: 'POST',
    body: encodeHs2Call(method, req),
    headers: { 'content-type': 'application/x-thrift' },
    signal: AbortSignal.timeout(5000),
  })
  const body = Buffer.from(await res.arrayBuffer())
  const ms = Date.now() - t0
  return { status: res.status, ms, ...(res.status === 200 ? decodeHs2Reply(method, body) : {}) }
}

t.test('a synchronous ExecuteStatement is not timed; an asynchronous one is', async (t) => {
  const slow = await startHs2HttpStub({ id: 'slow', slowMs: { ExecuteStatement: 3 * TIMEOUT } })
  t.teardown(() => slow.close())
  const { proxy, port } = await proxyFor(t, [slow])
  const open = await call(port, 'OpenSession', new T.TOpenSessionReq({ client_protocol: 9 }))
  const sessionHandle = open.resp?.['sessionHandle']
  t.ok(sessionHandle, 'session opened')
  const exec = (runAsync: boolean) =>
    call(
      port,
      'ExecuteStatement',
      new T.TExecuteStatementReq({ sessionHandle, statement: 'SELECT 1', runAsync }),
    )
  const sync = await exec(false)
  t.ok(sync.ms >= 3 * TIMEOUT - 20, `the synchronous one waited for its answer (${sync.ms} ms)`)
  t.match(sync.resp, { status: { statusCode: T.TStatusCode.SUCCESS_STATUS } }, 'and got it')
  t.equal(backendOf(proxy, slow.port).stalls, 0, 'no stall counted')
  const async = await exec(true)
  t.ok(async.ms < 3 * TIMEOUT, `the asynchronous one was cut at the timeout (${async.ms} ms)`)
  t.match(async.resp, {
    status: {
      statusCode: T.TStatusCode.ERROR_STATUS,
      errorMessage: /HHP_ERR_SESSION_LOST: .* not answering \(no response headers within 300 ms/,
    },
  })
  t.equal(backendOf(proxy, slow.port).stalls, 1)
})
