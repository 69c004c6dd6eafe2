/**
 * Which headers cross the proxy. Everything end-to-end passes unchanged, in both directions:
 * `Authorization` (Basic, Negotiate, Bearer), `X-Hive-Delegation-Token`, `X-XSRF-HEADER`, custom
 * `http.header.*` headers, cookies (HiveServer2's `hive.server2.auth` included), `X-Request-ID`.
 * Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's business and are dropped; framing is
 * written anew on each side (http/wire/). Nothing here logs a value.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // answered by the front itself
  'expect',
  // the backend's own address is set by the client library
  'host',
  // the request body is re-framed with its exact length
  'content-length',
])

/**
 * Headers for the backend request: the client's end-to-end headers plus `X-Forwarded-For` with
 * the client's address appended (a list the client sent is kept in front of it).
 */
export function backendRequestHeaders(
  h: IncomingHttpHeaders,
  clientAddress: string | undefined,
  bodyLength: number,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const listed = connectionListed(h.connection)
  for (const k in h) {
    const v = h[k]
    if (v === undefined || HOP_BY_HOP.has(k) || listed?.includes(k) === true) continue
    out[k] = v
  }
  if (clientAddress !== undefined) {
    const before = h['x-forwarded-for']
    out['x-forwarded-for'] =
      before === undefined || before === '' ? clientAddress : `${before}, ${clientAddress}`
  }
  out['content-length'] = String(bodyLength)
  return out
}

/** Headers for the client's response: the backend's end-to-end headers (Content-Length kept: the body passes byte for byte). */
export function clientResponseHeaders(
  h: Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const k in h) {
    const v = h[k]
    if (v === undefined || (HOP_BY_HOP.has(k) && k !== 'content-length')) continue
    out[k] = v
  }
  return out
}

/**
 * Headers the client named in `Connection` are hop-by-hop too: their names, or undefined when
 * `Connection` names none but itself (`keep-alive`, `close`: the common case allocates nothing).
 */
function connectionListed(c: string | undefined): string[] | undefined {
  if (c === undefined) return undefined
  const lower = c.toLowerCase()
  if (lower === 'keep-alive' || lower === 'close') return undefined
  return lower.split(',').map((t) => t.trim())
}
