/**
 * The HTTP probe of HS2 and metastore HTTP routes: `OPTIONS /<path>` on one kept-alive connection
 * per backend. HiveServer2's ThriftHttpServlet overrides only doPost (Thrift's TServlet hands GET
 * to it, so a GET runs the authentication code and logs an error without credentials); OPTIONS is
 * answered by the servlet base class with an `Allow` header, before any Hive code: no session, no
 * credentials, no line in HiveServer2's own log (a Jetty request log, when enabled, has one line
 * per probe).
 *
 * Healthy: any answer below 500 within the timeout.
 */
import type net from 'node:net'
import { ErrorCodes, ProxyError } from '../errors.js'
import { Upstream } from '../http/upstream.js'
import { BackendPool } from '../http/wire/client.js'
import { MAX_HEADER_BYTES } from '../http/wire/front.js'
import type { Prober } from './runner.js'

export interface HttpProbeOptions {
  key: string
  /** the servlet path, without leading `/` */
  path: string
  /**
   * a connection to the backend, dialled as the route dials it. Trap: a backend the route reaches
   * with TLS must be probed with TLS, or every probe fails and marks it down
   */
  dial: () => Promise<net.Socket>
  /** the probe timeout now (the runner enforces it too; this bounds the wait for an answer) */
  timeoutMs: () => number
}

const NO_BODY = Buffer.alloc(0)

export class HttpProber implements Prober {
  readonly #o: HttpProbeOptions
  #pool: BackendPool | undefined

  constructor(o: HttpProbeOptions) {
    this.#o = o
  }

  async probe(): Promise<string> {
    const o = this.#o
    // HiveServer2's Jetty drops idle connections after hive.server2.thrift.http.max.idle.time
    // (30 min by default); the pool then dials again
    this.#pool ??= new BackendPool({
      key: o.key,
      dial: o.dial,
      keepAliveMs: 60_000,
      maxHeaderBytes: MAX_HEADER_BYTES,
    })
    const t = o.timeoutMs()
    const up = await new Upstream().start(
      this.#pool,
      { method: 'OPTIONS', path: `/${o.path}`, headers: {}, body: NO_BODY, idleMs: t },
      {
        ms: t,
        onStall: () =>
          new ProxyError(ErrorCodes.PROBE, `no answer to OPTIONS within ${t} ms`, {
            backend: o.key,
          }),
      },
    )
    await new Promise<void>((resolve, reject) =>
      up.pipe({ data: () => true, end: resolve, error: reject }),
    )
    if (up.statusCode >= 500)
      throw new ProxyError(ErrorCodes.PROBE, `OPTIONS answered ${up.statusCode}`, {
        backend: o.key,
      })
    return `HTTP ${up.statusCode}`
  }

  close(): void {
    this.#pool?.destroy()
    this.#pool = undefined
  }
}
