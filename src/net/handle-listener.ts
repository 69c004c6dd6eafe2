import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { ErrorCodes, ProxyError } from '../errors.js'
import type { HostPort } from '../config/types.js'
import type { HandleBindings, SockAddr, TcpHandle } from './handles.js'
import { uvError } from './tcp-conn.js'

/** what net.Server uses; the kernel caps it at net.core.somaxconn */
const BACKLOG = 511

/**
 * Listener (net/listener.ts) on a bare server handle. Accepted handles are not reading (nothing
 * is read until the route has a backend) and have noDelay set; `onConnection` owns each from then
 * on and must close it on every path. A failed accept (EMFILE, ENFILE, ...) goes to `onAcceptError`
 * and the listener keeps accepting.
 */
export class HandleListener {
  readonly #b: HandleBindings
  readonly #want: HostPort
  readonly #onConnection: (h: TcpHandle) => void
  readonly #onAcceptError: (err: Error) => void
  #server: TcpHandle | undefined

  constructor(
    b: HandleBindings,
    want: HostPort,
    onConnection: (h: TcpHandle) => void,
    onAcceptError: (err: Error) => void,
  ) {
    this.#b = b
    this.#want = want
    this.#onConnection = onConnection
    this.#onAcceptError = onAcceptError
  }

  /** Binds; rejects with HHP_ERR_LISTEN (e.g. EADDRINUSE) naming the address. */
  async listen(): Promise<HostPort> {
    const { host, port } = this.#want
    const fail = (cause: unknown, code: string): ProxyError =>
      new ProxyError(ErrorCodes.LISTEN, `cannot listen on ${host}:${port}: ${code}`, { cause })
    let address = host
    let family = isIP(host)
    if (family === 0) {
      try {
        ;({ address, family } = await lookup(host))
      } catch (err) {
        throw fail(
          err,
          typeof err === 'object' && err !== null && 'code' in err
            ? String(err.code)
            : 'lookup failed',
        )
      }
    }
    const s = this.#b.newServer()
    let err = family === 6 ? s.bind6(address, port, 0) : s.bind(address, port)
    if (err === 0) err = s.listen(BACKLOG)
    if (err < 0) {
      s.close()
      const e = uvError(err, 'listen')
      throw fail(e, e.code)
    }
    s.onconnection = (status, client) => {
      if (status < 0 || client === undefined) return this.#onAcceptError(uvError(status, 'accept'))
      client.setNoDelay(true)
      this.#onConnection(client)
    }
    this.#server = s
    return this.address()
  }

  address(): HostPort {
    const out: SockAddr = {}
    if (this.#server === undefined || this.#server.getsockname(out) < 0) return { ...this.#want }
    return { host: out.address ?? this.#want.host, port: out.port ?? this.#want.port }
  }

  /** Stop accepting; live connections are untouched. Idempotent. */
  stopAccepting(): Promise<void> {
    const s = this.#server
    this.#server = undefined
    if (s === undefined) return Promise.resolve()
    return new Promise((resolve) => s.close(() => resolve()))
  }
}
