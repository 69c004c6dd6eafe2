import net from 'node:net'
import type tls from 'node:tls'
import { ErrorCodes, ProxyError, errorCode } from '../errors.js'
import type { HostPort } from '../config/types.js'
import { tlsLib } from './tls.js'

/** A TLS front's settings and where handshake failures are reported. */
export interface ListenerTls {
  options: tls.TlsOptions
  /** a client's handshake failed (bad certificate, none, not TLS, timeout); the socket is gone */
  onHandshakeError: (err: Error) => void
}

/**
 * Accepts client connections and hands each to `onConnection`, which owns the socket from then on
 * and must close it on every path. Sockets arrive paused (nothing is read until the route has a
 * backend), half-open capable (a client's EOF is forwarded, not turned into a close) and with an
 * 'error' listener (a reset before the owner listens must not become an uncaught error). A failed
 * accept (EMFILE, ...) goes to `onAcceptError`; net.Server keeps listening.
 *
 * With `tls` the listener is a tls.Server: a client is handed over once its handshake is done
 * (decrypted, paused like the others); `setSecureContext` puts a new certificate in place for the
 * connections that follow, live ones keep theirs. Trap: `pauseOnConnect` is not used there: on a
 * TLS server it leaves the handed-over socket in a state where a later 'data' listener alone
 * never starts the flow; the socket is paused explicitly instead (nothing is read past its buffer).
 */
export class Listener {
  readonly #server: net.Server
  readonly #want: HostPort
  #listening = false

  /** Live connections are tracked by their owner (the route), not here. */
  constructor(
    want: HostPort,
    onConnection: (socket: net.Socket) => void,
    onAcceptError: (err: Error) => void = () => {},
    secure?: ListenerTls,
  ) {
    this.#want = want
    if (secure === undefined) {
      this.#server = net.createServer(
        { pauseOnConnect: true, allowHalfOpen: true, noDelay: true },
        (socket) => {
          socket.on('error', ignore)
          onConnection(socket)
        },
      )
    } else {
      const server = tlsLib().createServer(
        { ...secure.options, allowHalfOpen: true, noDelay: true },
        (socket) => {
          socket.on('error', ignore)
          socket.pause()
          onConnection(socket)
        },
      )
      server.on('tlsClientError', (err) => secure.onHandshakeError(err))
      this.#server = server
    }
    this.#server.on('error', (err) => {
      if (this.#listening) onAcceptError(err)
    })
  }

  /** Binds; rejects with HHP_ERR_LISTEN (e.g. EADDRINUSE) naming the address. */
  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new ProxyError(
            ErrorCodes.LISTEN,
            `cannot listen on ${this.#want.host}:${this.#want.port}: ${errorCode(err)}`,
            { cause: err },
          ),
        )
      }
      this.#server.once('error', onError)
      this.#server.listen(this.#want.port, this.#want.host, () => {
        this.#server.off('error', onError)
        this.#listening = true
        resolve(this.address())
      })
    })
  }

  /** TLS fronts: the certificate (and client CA) for new connections; live ones keep theirs. */
  setSecureContext(options: tls.TlsOptions): void {
    const server = this.#server as Partial<tls.Server>
    server.setSecureContext?.(options)
  }

  address(): HostPort {
    const a = this.#server.address()
    if (a === null || typeof a === 'string') return { ...this.#want }
    return { host: a.address, port: a.port }
  }

  /**
   * Stop accepting; live connections are untouched. Idempotent. Resolves as soon as the port is
   * released — not when the last connection ends, which is when net.Server's own close callback
   * would fire.
   */
  stopAccepting(): Promise<void> {
    if (this.#server.listening) this.#server.close()
    return Promise.resolve()
  }
}

function ignore(): void {}
