/**
 * An HS2 HTTP client that gives up before its answer came (a client-side timeout, a closed
 * laptop) must end only its own request. Trap guarded here: undici's response body emits
 * RequestAbortedError when destroyed unread; without a listener that 'error' ends the process.
 */
import net from 'node:net'
import t from 'tap'
import type { Hs2HttpRouteSnapshot } from '../../src/routes/hs2-http-route.js'
import { startHs2HttpStub } from '../helpers/hs2-http-stub.js'
import { encodeHs2Call, T } from '../helpers/hs2-wire.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'

t.test('a client gone before its answer ends only its request', async (t) => {
  const stub = await startHs2HttpStub({ id: 'slow', slowMs: { OpenSession: 300 } })
  t.teardown(() => stub.close())
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(
      { kind: 'static', backends: [{ host: '127.0.0.1', port: stub.port }] },
      { transportMode: 'http' },
    ),
  ])
  const port = ports[0] as number
  const body = encodeHs2Call('OpenSession', new T.TOpenSessionReq({ client_protocol: 9 }))
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(
        `POST /cliservice HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`,
        () => s.write(body),
      ),
    )
    s.on('error', () => {})
    // gone before the stub's late answer
    setTimeout(() => {
      s.destroy()
      resolve()
    }, 100)
  })
  const requests = (): Record<string, number> =>
    (proxy.snapshot().routes[0] as Hs2HttpRouteSnapshot).http.requests
  await waitFor('the late answer came and was dropped', () =>
    Object.keys(requests()).includes('OpenSession client_gone'),
  )
  const res = await fetch(`http://127.0.0.1:${port}/cliservice`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-thrift' },
    signal: AbortSignal.timeout(5000),
  })
  t.equal(res.status, 200, 'the proxy still serves')
})
