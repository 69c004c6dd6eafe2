/**
 * The request side an HTTP route needs around HttpFront and undici: the checks before a call is
 * read (path, method, body limit) and the whole body, plain-text answers, which undici errors mean
 * "nothing reached the backend", and loading undici only where it can run.
 * Shared by the HS2 and the metastore HTTP routes.
 */
import type { IncomingMessage } from 'node:http'
import type { Pool } from 'undici'
import { ErrorCodes, ProxyError, errorCode, errorMessage } from '../errors.js'
import type { HttpExchange } from './front.js'

/** Connect-phase failures: nothing of the request reached a server, so another one may be tried. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'HHP_ERR_CONNECT',
  'EMFILE',
  'ENFILE',
  'EADDRNOTAVAIL',
])

export function isConnectError(err: unknown): boolean {
  return CONNECT_ERRORS.has(errorCode(err))
}

/**
 * The whole body, or undefined past `max` bytes (the rest is not read: the caller answers 413
 * with `Connection: close`, since unread bytes would be taken for the next request).
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let n = 0
    const onData = (c: Buffer): void => {
      n += c.length
      if (n > max) {
        req.pause()
        req.off('data', onData)
        resolve(undefined)
        return
      }
      chunks.push(c)
    }
    req.on('data', onData)
    req.once('end', () =>
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, n)),
    )
    req.once('error', reject)
  })
}

/** A short text answer; `close` ends the connection after it. Nothing once an answer has begun. */
export function answerPlain(ex: HttpExchange, status: number, text: string, close = false): void {
  const { res } = ex
  if (res.headersSent || res.destroyed) return
  const body = `${text}\n`
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  }
  // the rest of an unread body would be taken for the next request
  if (close) headers['connection'] = 'close'
  res.writeHead(status, headers)
  res.end(body)
}

/**
 * What every Thrift-over-HTTP route checks before it looks at a call: the route's path (else 404,
 * naming `service`'s path), POST (else 405), a body within `maxBodyBytes` (else 413, before a
 * 100 Continue is sent and again while reading). Then `onBody` gets the whole body and what
 * follows the path (a sub-path and the query string, passed on to the backend).
 */
export function receiveThriftPost(
  ex: HttpExchange,
  o: { path: string; maxBodyBytes: number; service: string },
  onBody: (body: Buffer, suffix: string) => void,
): void {
  const { req, res } = ex
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const pathname = q < 0 ? url : url.slice(0, q)
  const base = `/${o.path}`
  if (pathname !== base && !pathname.startsWith(`${base}/`)) {
    answerPlain(ex, 404, `no Thrift service at ${pathname}; the ${o.service} path is ${base}`)
    return
  }
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST')
    answerPlain(ex, 405, 'Thrift over HTTP takes POST requests')
    return
  }
  const max = o.maxBodyBytes
  if (Number(req.headers['content-length'] ?? '0') > max) {
    answerPlain(ex, 413, `request body over ${max} bytes`, true)
    return
  }
  if (ex.expectContinue) res.writeContinue()
  readBody(req, max).then(
    (body) => {
      if (body === undefined) answerPlain(ex, 413, `request body over ${max} bytes`, true)
      else onBody(body, pathname.slice(base.length) + (q < 0 ? '' : url.slice(q)))
    },
    () => res.destroy(),
  )
}

/**
 * undici's Pool, imported when a route starts. Trap: undici's import starts an instantiation of
 * its WebAssembly HTTP parser that nobody awaits; where wasm memory is refused (an address-space
 * limit) that rejection would end the process, so the refusal is asked about first and reported
 * as HHP_ERR_RUNTIME naming `what` (the route).
 */
export async function loadPool(what: string): Promise<typeof Pool> {
  return (await loadUndici(what)).Pool
}

/** undici itself, with the same check as loadPool (for routes that need more than its Pool). */
export async function loadUndici(what: string): Promise<typeof import('undici')> {
  const noWasm = wasmMemoryRefused()
  if (noWasm !== undefined)
    throw new ProxyError(
      ErrorCodes.RUNTIME,
      `${what}: this process cannot have WebAssembly memory (${noWasm}), which undici's HTTP parser needs; raise the address-space limit (ulimit -v, LimitAS=) or start node with --disable-wasm-trap-handler`,
    )
  return import('undici')
}

/** Why a one-page WebAssembly memory cannot be instantiated here, or undefined when it can. */
function wasmMemoryRefused(): string | undefined {
  // the typings here carry no DOM lib, so WebAssembly is described as far as it is used
  const api = (
    globalThis as {
      WebAssembly?: { Module: new (b: Uint8Array) => object; Instance: new (m: object) => object }
    }
  ).WebAssembly
  if (api === undefined) return 'this Node has no WebAssembly (--jitless?)'
  try {
    // (module (memory 1)): the smallest module that reserves wasm memory and its guard regions
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1])
    new api.Instance(new api.Module(bytes))
    return undefined
  } catch (err) {
    return errorMessage(err)
  }
}
