import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { ErrorCodes, ProxyError } from '../errors.js'
import type { HandleBindings, TcpHandle } from './handles.js'
import { uvError } from './tcp-conn.js'

export interface HandleDialOptions {
  host: string
  port: number
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
  const family = isIP(opts.host)
  if (family !== 0) return connectTo(b, opts, opts.host, family)
  return lookup(opts.host).then(
    (a) => connectTo(b, opts, a.address, a.family),
    (err: unknown) => Promise.reject(failed(opts, err)),
  )
}

function connectTo(b: HandleBindings, opts: HandleDialOptions, address: string, family: number): Promise<TcpHandle> {
  return new Promise((resolve, reject) => {
    const h = b.newSocket()
    const req = b.newConnectReq()
    const timer = setTimeout(() => {
      req.oncomplete = () => {}
      h.close()
      reject(new ProxyError(ErrorCodes.CONNECT_TIMEOUT, `connect to ${opts.key} timed out after ${opts.timeoutMs} ms`, { retriable: true, backend: opts.key }))
    }, opts.timeoutMs)
    req.oncomplete = (status) => {
      clearTimeout(timer)
      if (status < 0) {
        h.close()
        reject(failed(opts, uvError(status, 'connect')))
        return
      }
      h.setNoDelay(true)
      resolve(h)
    }
    const err = family === 6 ? h.connect6(req, address, opts.port) : h.connect(req, address, opts.port)
    if (err < 0) req.oncomplete(err)
  })
}

function failed(opts: HandleDialOptions, cause: unknown): ProxyError {
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : 'UNKNOWN'
  return new ProxyError(ErrorCodes.CONNECT, `connect to ${opts.key} failed: ${code}`, { cause, retriable: true, backend: opts.key })
}
