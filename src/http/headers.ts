/**
 * Which headers cross the proxy. Everything end-to-end passes unchanged, in both directions:
 * `Authorization` (Basic, Negotiate, Bearer), `X-Hive-Delegation-Token`, `X-XSRF-HEADER`, custom
 * `http.header.*` headers, cookies (HiveServer2's `hive.server2.auth` included), `X-Request-ID`.
 * Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's business and are dropped; framing is
 * written anew on each side (http/wire/). Nothing here logs a value.
 */
import { type HeaderLines, headerValue } from './wire/message.js'

/**
 * Hop-by-hop headers (`name` in lower case), and those the proxy writes anew: a switch, not a Set,
 * because every name the parser hands out is a new string whose hash a Set would compute first.
 */
function hopByHop(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'proxy-authenticate':
    case 'proxy-authorization':
    case 'te':
    case 'trailer':
    case 'transfer-encoding':
    case 'upgrade':
    // answered by the front itself
    case 'expect':
    // the backend's own address is set by the client library
    case 'host':
    // the request body is re-framed with its exact length
    case 'content-length':
      return true
    default:
      return false
  }
}

/**
 * Header lines for the backend request from the client's flat `[name, value, ...]` list (as the
 * parser gives it): its end-to-end headers, then `X-Forwarded-For` with the client's address
 * appended (a list the client sent is kept in front of it, its lines joined) and the body's exact
 * Content-Length. Names are written in lower case.
 */
export function backendRequestLines(
  raw: readonly string[],
  clientAddress: string | undefined,
  bodyLength: number,
): HeaderLines {
  const listed = connectionListed(headerValue(raw, 'connection'))
  let out = ''
  let forwarded: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase()
    const v = raw[i + 1] as string
    if (k === 'x-forwarded-for' && clientAddress !== undefined) {
      if (v !== '') forwarded = forwarded === undefined ? v : `${forwarded}, ${v}`
      continue
    }
    if (hopByHop(k) || listed?.includes(k) === true) continue
    out += `${k}: ${v}\r\n`
  }
  if (clientAddress !== undefined)
    out += `x-forwarded-for: ${forwarded === undefined ? clientAddress : `${forwarded}, ${clientAddress}`}\r\n`
  return `${out}content-length: ${bodyLength}\r\n`
}

/**
 * Header lines for the client's response from the backend's flat list: its end-to-end headers
 * (Content-Length kept: the body passes byte for byte). Names are written in lower case.
 */
export function clientResponseLines(raw: readonly string[]): HeaderLines {
  let out = ''
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase()
    if (k !== 'content-length' && hopByHop(k)) continue
    out += `${k}: ${raw[i + 1] as string}\r\n`
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
