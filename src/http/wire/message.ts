/**
 * The parts of an HTTP/1.1 message the wire front and client share: http-parser-js (a kept,
 * pure-JS port of Node's own parser) does the parsing; this module turns its flat header list into
 * the lower-cased header object the routes read, and writes a message head back out.
 *
 * Why not node:http and undici: their stream and promise machinery per request costs an HTTP route
 * several times what the proxy's own work does (docs/benchmarks.md, "HTTP route"). The front and
 * the client read sockets directly and hand the parser whole chunks; bodies travel as slices of
 * the chunks read.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { HTTPParser as Parser } from 'http-parser-js'
import { lazy } from '../../lazy.js'

type ParserModule = typeof import('http-parser-js')

/** Loaded by the first HTTP route: metastore-only and binary proxies never read it. */
export const parserLib = lazy<ParserModule>('http-parser-js')

export type HttpParser = InstanceType<typeof Parser>

/** A parser of `type` with the header size limit (request line + headers, bytes). */
export function newParser(type: 'REQUEST' | 'RESPONSE', maxHeaderBytes: number): HttpParser {
  const { HTTPParser } = parserLib()
  // Trap: the parser decodes head bytes as 'ascii' by default, which clears the high bit of every
  // byte; latin1 keeps each byte, so a header value is written on exactly as it came
  HTTPParser.encoding = 'latin1'
  const p = new HTTPParser(HTTPParser[type])
  p.maxHeaderSize = maxHeaderBytes
  return p
}

/**
 * The parser's flat `[name, value, ...]` list as Node shapes it: lower-case names, repeated
 * headers joined with `, ` (`cookie` with `; `), `set-cookie` always an array. Returns undefined
 * when a value holds a CR or LF (it could not be written on to the other side as one header).
 */
export function headerObject(raw: readonly string[]): IncomingHttpHeaders | undefined {
  const h: IncomingHttpHeaders = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    // lines are split at LF, so only a stray CR can hide in a value
    if (value.includes('\r')) return undefined
    if (name === 'set-cookie') {
      const list = h['set-cookie']
      if (list === undefined) h['set-cookie'] = [value]
      else list.push(value)
      continue
    }
    // only set-cookie holds an array, and it is handled above
    h[name] = joinRepeat(name, h[name] as string | undefined, value)
  }
  return h
}

/** A repeated header's values as one: joined with `, ` (`cookie` with `; `), as Node joins them. */
export function joinRepeat(name: string, before: string | undefined, value: string): string {
  return before === undefined ? value : `${before}${name === 'cookie' ? '; ' : ', '}${value}`
}

/**
 * Header `name` (lower case) of a flat `[name, value, ...]` list, repeats joined as headerObject
 * joins them; undefined when absent. For the few headers a hot path reads, without an object.
 */
export function headerValue(raw: readonly string[], name: string): string | undefined {
  let out: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i] as string
    if (n.length !== name.length || n.toLowerCase() !== name) continue
    out = joinRepeat(name, out, raw[i + 1] as string)
  }
  return out
}

/** Does a value hold a CR (it could not be written on as one header line)? */
export function hasCr(raw: readonly string[]): boolean {
  for (let i = 1; i < raw.length; i += 2) if ((raw[i] as string).includes('\r')) return true
  return false
}

/**
 * About the size of a head: `first` (URL or status text) plus each header's name, value, `: ` and
 * CRLF. Trap: http-parser-js checks its maxHeaderSize only when a chunk ends inside a head, so a
 * head that arrives whole in one chunk is never measured by it.
 */
export function headBytes(first: string, raw: readonly string[]): number {
  let n = first.length + 16
  for (const x of raw) n += x.length + 2
  return n
}

/**
 * Header lines (each ending in CRLF, names in lower case: see `framedByLength`), as the hot paths
 * build them straight from a parser's flat list instead of an object.
 */
export type HeaderLines = string

/**
 * `start` (a request or status line, no CRLF), `headers` and `extra` (whole header lines, each
 * ending in CRLF) as a message head ending in CRLF CRLF, to be written as latin1.
 */
export function writeHead(
  start: string,
  headers: OutgoingHttpHeaders | HeaderLines,
  extra = '',
): string {
  if (typeof headers === 'string') return `${start}\r\n${extra}${headers}\r\n`
  let s = `${start}\r\n${extra}`
  for (const k in headers) {
    const v = headers[k]
    if (v === undefined) continue
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${x}\r\n`
    else s += `${k}: ${v}\r\n`
  }
  return `${s}\r\n`
}

/** Do `headers` hold a Content-Length (the body is framed by it)? */
export function framedByLength(headers: OutgoingHttpHeaders | HeaderLines): boolean {
  if (typeof headers !== 'string') return headers['content-length'] !== undefined
  return headers.startsWith('content-length:') || headers.includes('\ncontent-length:')
}

/** Is `token` in a comma-separated header value (case-insensitive)? `Connection: close` etc. */
export function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false
  const v = (Array.isArray(value) ? value.join(',') : value).toLowerCase()
  if (v === token) return true
  return v.split(',').some((t) => t.trim() === token)
}

/** `head` (latin1) and `body` in one buffer: one write instead of a corked writev of two. */
export function withHead(head: string, body: Buffer): Buffer {
  const n = head.length
  const b = Buffer.allocUnsafe(n + body.length)
  b.write(head, 0, 'latin1')
  body.copy(b, n)
  return b
}
