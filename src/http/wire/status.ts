import type http from 'node:http'
import { lazy } from '../../lazy.js'

/** node:http through require for its status texts (http/wire/message.ts: no ESM import of it). */
const httpLib = lazy<typeof http>('node:http')

/** `HTTP/1.1 <status> <reason>`; the reason defaults to the standard text. */
export function statusLine(status: number, reason?: string): string {
  return `HTTP/1.1 ${status} ${reason ?? httpLib().STATUS_CODES[status] ?? ''}`
}
