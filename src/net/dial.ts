import net from 'node:net'
import type tls from 'node:tls'
import { ErrorCodes, ProxyError, errorCode } from '../errors.js'
import { tlsLib } from './tls.js'

export interface DialOptions {
  host: string
  port: number
  timeoutMs: number
  /** backend key, carried into errors */
  key: string
  /** passed to net.connect: the pipe reads the backend into one reused buffer (see net/pipe.ts) */
  onread?: net.OnReadOpts
  /**
   * dial with TLS (net/tls.ts BackendTls.connectOptions): resolves once the handshake is done and
   * the certificate checked; a refused certificate rejects like any connect failure
   */
  tls?: tls.ConnectionOptions
  /** with `tls`: every session the backend hands out (for resumption on the next connect) */
  onTlsSession?: (session: Buffer) => void
}

/** The retriable error of a connect that did not finish within `timeoutMs` (every transport). */
export function connectTimedOut(key: string, timeoutMs: number): ProxyError {
  return new ProxyError(
    ErrorCodes.CONNECT_TIMEOUT,
    `connect to ${key} timed out after ${timeoutMs} ms`,
    { retriable: true, backend: key },
  )
}

/** The retriable error of a connect that failed with `cause` (a socket or lookup error; every transport). */
export function connectFailed(key: string, cause: unknown): ProxyError {
  return new ProxyError(ErrorCodes.CONNECT, `connect to ${key} failed: ${errorCode(cause)}`, {
    cause,
    retriable: true,
    backend: key,
  })
}

/** Opens a TCP connection; injectable so routes can be tested without a network. */
export type Dial = (opts: DialOptions) => Promise<net.Socket>

/**
 * Connect (and, with `tls`, finish the handshake) with a deadline. Resolves with a connected socket (noDelay, allowHalfOpen) or rejects with
 * a retriable ProxyError: HHP_ERR_CONNECT_TIMEOUT, or HHP_ERR_CONNECT wrapping the socket error.
 * The socket is destroyed on every failure path.
 */
export const dialTcp: Dial = (opts) =>
  new Promise((resolve, reject) => {
    const connectOpts: net.NetConnectOpts = {
      host: opts.host,
      port: opts.port,
      noDelay: true,
      allowHalfOpen: true,
    }
    if (opts.onread !== undefined) Object.assign(connectOpts, { onread: opts.onread })
    const secure = opts.tls
    const socket =
      secure === undefined
        ? net.connect(connectOpts)
        : tlsLib().connect({ ...connectOpts, ...secure } as tls.ConnectionOptions)
    const ready = secure === undefined ? 'connect' : 'secureConnect'
    if (secure !== undefined && opts.onTlsSession !== undefined)
      socket.on('session', opts.onTlsSession)
    const timer = setTimeout(() => {
      cleanup()
      socket.destroy()
      reject(connectTimedOut(opts.key, opts.timeoutMs))
    }, opts.timeoutMs)
    const onError = (err: Error): void => {
      cleanup()
      socket.destroy()
      reject(connectFailed(opts.key, err))
    }
    const onConnect = (): void => {
      cleanup()
      resolve(socket)
    }
    function cleanup(): void {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.off(ready, onConnect)
    }
    socket.once('error', onError)
    socket.once(ready, onConnect)
  })
