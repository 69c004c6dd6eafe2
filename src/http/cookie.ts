/**
 * The proxy's own affinity cookie (the second path, for several proxies behind one address): its
 * value names a backend without revealing it, and every proxy that lists the same backend derives
 * the same value (no shared secret, no state between proxies).
 */
import { createHash } from 'node:crypto'

/** The opaque cookie value of a backend key (`host:port`). */
export function affinityValue(backendKey: string): string {
  return createHash('sha256').update(backendKey).digest('base64url').slice(0, 22)
}

/** The value of cookie `name` in a request's Cookie header(s); undefined when absent. */
export function readCookie(
  header: string | string[] | undefined,
  name: string,
): string | undefined {
  if (header === undefined) return undefined
  const all = Array.isArray(header) ? header.join('; ') : header
  // a scan for `name=` at the start of a pair: read per answer, so no split into every pair
  let at = all.indexOf(name)
  while (at >= 0) {
    let before = at - 1
    while (before >= 0 && (all[before] === ' ' || all[before] === '\t')) before--
    let eq = at + name.length
    while (all[eq] === ' ' || all[eq] === '\t') eq++
    if ((before < 0 || all[before] === ';') && all[eq] === '=') {
      const end = all.indexOf(';', eq)
      return all.slice(eq + 1, end < 0 ? all.length : end).trim()
    }
    at = all.indexOf(name, at + 1)
  }
  return undefined
}

/** A Set-Cookie value for the affinity cookie: session cookie, whole site, not readable by scripts. */
export function affinitySetCookie(name: string, value: string): string {
  return `${name}=${value}; Path=/; HttpOnly`
}
