import type http from 'node:http'
import { lazy } from '../../lazy.js'

/**
 * node:http for its status texts, through require. Trap (Node 22): the first ESM import of
 * node:http reads every export, and its lazy `WebSocket` getter loads Node's bundled undici, which
 * compiles WebAssembly: start-up time, and under an address-space limit a crash. require() reads
 * no getter.
 */
const httpLib = lazy<typeof http>('node:http')

/** `HTTP/1.1 <status> <reason>`; the reason defaults to the standard text. */
export function statusLine(status: number, reason?: string): string {
  return `HTTP/1.1 ${status} ${reason ?? httpLib().STATUS_CODES[status] ?? ''}`
}
