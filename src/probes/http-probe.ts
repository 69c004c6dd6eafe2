/**
 * The HS2 HTTP probe: `OPTIONS /<path>` on one kept-alive connection per backend. HiveServer2's
 * ThriftHttpServlet overrides only doPost (Thrift's TServlet hands GET to it, so a GET runs the
 * authentication code and logs an error without credentials); OPTIONS is answered by the servlet
 * base class with an `Allow` header, before any Hive code: no session, no credentials, no line in
 * HiveServer2's own log (a Jetty request log, when enabled, has one line per probe).
 *
 * Healthy: any answer below 500 within the timeout.
 */
import type tls from 'node:tls'
import type { Client } from 'undici'
import { ErrorCodes, ProxyError } from '../errors.js'
import type { Prober } from './runner.js'

/**
 * undici, loaded with the first HTTP probe. Trap: undici compiles its parser to WebAssembly when
 * it loads; only HTTP routes (which load it anyway) ever reach this.
 */
let undici: Promise<typeof import('undici')> | undefined

export interface HttpProbeOptions {
  key: string
  /** the servlet path, without leading `/` */
  path: string
  connectTimeoutMs: number
  /** the probe timeout now (the runner enforces it too; this bounds undici's own wait) */
  timeoutMs: () => number
  /** the route dials this backend with TLS (backendTls): so does the probe, checked the same way */
  tls?: tls.ConnectionOptions | undefined
}

export class HttpProber implements Prober {
  readonly #o: HttpProbeOptions
  #client: Client | undefined
  /** bumped by close(): a probe that was loading undici then makes no client (nothing leaks) */
  #gen = 0

  constructor(o: HttpProbeOptions) {
    this.#o = o
  }

  async probe(): Promise<string> {
    undici ??= import('undici')
    const gen = this.#gen
    const { Client } = await undici
    if (gen !== this.#gen)
      throw new ProxyError(ErrorCodes.PROBE, 'probe closed', { backend: this.#o.key })
    // trap: the same scheme as the route's own pool (hs2-http-route.ts #pool); a backend dialled
    // with TLS there must be probed with TLS here, or every probe fails and marks it down
    const secure = this.#o.tls
    this.#client ??= new Client(`${secure === undefined ? 'http' : 'https'}://${this.#o.key}`, {
      connect: { timeout: this.#o.connectTimeoutMs, ...secure },
      // HiveServer2's Jetty drops idle connections after hive.server2.thrift.http.max.idle.time
      // (30 min by default); undici reconnects on its own when it did
      keepAliveTimeout: 60_000,
      pipelining: 1,
    })
    const t = this.#o.timeoutMs()
    const r = await this.#client.request({
      method: 'OPTIONS',
      path: `/${this.#o.path}`,
      headersTimeout: t,
      bodyTimeout: t,
    })
    await r.body.dump()
    if (r.statusCode >= 500)
      throw new ProxyError(ErrorCodes.PROBE, `OPTIONS answered ${r.statusCode}`, {
        backend: this.#o.key,
      })
    return `HTTP ${r.statusCode}`
  }

  close(): void {
    this.#gen++
    const c = this.#client
    this.#client = undefined
    void c?.destroy().catch(() => {})
  }
}
