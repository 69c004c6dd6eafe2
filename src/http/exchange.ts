/**
 * What the HTTP routes share around their front and backend pools: which failures mean "nothing
 * reached the backend", and plain-text answers.
 */
import { errorCode } from '../errors.js'
import type { HttpExchange } from './wire/front.js'

/** Connect-phase failures: nothing of the request reached a server, so another one may be tried. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'HHP_ERR_CONNECT',
  'HHP_ERR_CONNECT_TIMEOUT',
  'EMFILE',
  'ENFILE',
  'EADDRNOTAVAIL',
])

export function isConnectError(err: unknown): boolean {
  return CONNECT_ERRORS.has(errorCode(err))
}

/** A short text answer; `close` ends the connection after it. Nothing once an answer has begun. */
export function answerPlain(ex: HttpExchange, status: number, text: string, close = false): void {
  if (ex.headersSent || ex.destroyed) return
  ex.respond(status, { 'content-type': 'text/plain; charset=utf-8' }, `${text}\n`, close)
}
