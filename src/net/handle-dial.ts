import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { ProxyError } from '../errors.js'
import { connectFailed, connectTimedOut } from './dial.js'
import type { HandleBindings, TcpHandle } from './handles.js'
import { uvError } from './tcp-conn.js'

export interface HandleDialOptions {
  host: string
  port: number
  /** covers the name lookup and the connect */
  timeoutMs: number
  /** backend key, carried into errors */
  key: string
}

/**
 * dialTcp (net/dial.ts) on a bare handle: resolves with a connected handle (noDelay) or rejects
 * with a retriable HHP_ERR_CONNECT_TIMEOUT / HHP_ERR_CONNECT; the handle is closed on every
 * failure path. A host name is resolved first (one address, the resolver's first; net.Socket
 * would also try the others of a dual-stack name).
 */
export function dialHandle(b: HandleBindings, opts: HandleDialOptions): Promise<TcpHandle> {
  return new Promise((resolve, reject) => {
    let h: TcpHandle | undefined
    let settled = false
    const fail = (err: ProxyError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      h?.close()
      reject(err)
    }
    const timer = setTimeout(() => {
      // closing a connecting handle cancels its request; `settled` makes that a no-op
      fail(connectTimedOut(opts.key, opts.timeoutMs))
    }, opts.timeoutMs)
    const connect = (address: string, family: number): void => {
      if (settled) return
      const handle = b.newSocket()
      h = handle
      const req = b.newConnectReq()
      req.oncomplete = (status) => {
        if (settled) return
        if (status < 0) return fail(connectFailed(opts.key, uvError(status, 'connect')))
        settled = true
        clearTimeout(timer)
        handle.setNoDelay(true)
        resolve(handle)
      }
      const err =
        family === 6
          ? handle.connect6(req, address, opts.port)
          : handle.connect(req, address, opts.port)
      if (err < 0) fail(connectFailed(opts.key, uvError(err, 'connect')))
    }
    const family = isIP(opts.host)
    if (family !== 0) connect(opts.host, family)
    else
      lookup(opts.host).then(
        (a) => connect(a.address, a.family),
        (err: unknown) => fail(connectFailed(opts.key, err)),
      )
  })
}
