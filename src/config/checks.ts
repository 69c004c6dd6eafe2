/**
 * Pure value checks shared by every config source. A check takes a raw value (a YAML scalar or a
 * flag/variable string) and returns the typed value or a message plus a concrete fix; it never
 * throws and never knows where the value came from (the caller adds the key).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { DEFAULTS } from '../defaults.js'
import type { ConfigProblem } from '../errors.js'
import { nearest, type Sourced } from './flags.js'
import type { HostPort } from './types.js'
import { trimZnodePath } from './host-entry.js'

export type Verdict<T> = { ok: true; value: T } | { ok: false; message: string; fix: string }
export type Check<T> = (value: unknown) => Verdict<T>

/** `fallback` when unset; the checked value when set and valid; else `fallback` plus a problem. */
export function take<T>(
  src: Sourced | undefined,
  fallback: T,
  check: Check<T>,
  problems: ConfigProblem[],
): T {
  if (src === undefined) return fallback
  const verdict = check(src.value)
  if (verdict.ok) return verdict.value
  problems.push({ key: src.key, message: verdict.message, fix: verdict.fix })
  return fallback
}

/** Node's timers turn any delay above 2^31-1 ms into 1 ms: a "very long" timeout would fire at once. */
export const MAX_WHOLE = 2_147_483_647

/**
 * Whole numbers from `min` to MAX_WHOLE: YAML numbers or digit strings (flags and variables are
 * strings). `zero` says what 0 means when 0 is allowed.
 */
export function whole(min: number, example: number, zero = 'never'): Check<number> {
  return (value) => {
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d+$/.test(value)
          ? Number(value)
          : NaN
    if (Number.isInteger(n) && n >= min && n <= MAX_WHOLE) return { ok: true, value: n }
    const what =
      min === 0
        ? `a whole number >= 0 (0 = ${zero})`
        : min === 1
          ? 'a positive whole number'
          : `a whole number >= ${min}`
    const fix = `use a whole number from ${min} to ${MAX_WHOLE}, e.g. ${example}`
    return { ok: false, message: `${show(value)} is not ${what}`, fix }
  }
}

/** A TCP port, 1..65535 (YAML number or digit string). */
export function tcpPort(value: unknown): Verdict<number> {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,5}$/.test(value)
        ? Number(value)
        : NaN
  if (Number.isInteger(n) && n >= 1 && n <= 65_535) return { ok: true, value: n }
  return {
    ok: false,
    message: `${show(value)} is not a TCP port`,
    fix: 'use a port from 1 to 65535, e.g. 2181',
  }
}

/**
 * Case-insensitive (`INFO` is a common way to write a level, `random` one for a metastore
 * selection); yields the canonical spelling.
 */
export function oneOf<T extends string>(allowed: readonly T[]): Check<T> {
  return (value) => {
    const hit = allowed.find(
      (a) => typeof value === 'string' && a.toLowerCase() === value.toLowerCase(),
    )
    if (hit !== undefined) return { ok: true, value: hit }
    const list = allowed.join(', ')
    const guess = typeof value === 'string' ? nearest(value, allowed) : undefined
    const fix =
      guess === undefined ? `use one of ${list}` : `did you mean ${guess}? (one of ${list})`
    return { ok: false, message: `${show(value)} is not one of ${list}`, fix }
  }
}

const HOSTNAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/

/**
 * `host:port`, `[v6]:port`, or a bare port (= 127.0.0.1). Port 0 (the OS picks a free port) is
 * accepted so tests can start the CLI without guessing ports; the host of `[v6]` is stored unbracketed.
 */
export function listenAddress(value: unknown): Verdict<HostPort> {
  const fix = 'write host:port, e.g. 127.0.0.1:10000, [::1]:10000, or a bare port for 127.0.0.1'
  const parts = splitListen(typeof value === 'number' ? String(value) : value)
  if (parts === undefined) return { ok: false, message: `${show(value)} is not host:port`, fix }
  const { host, digits, bracketed } = parts
  if (bracketed ? !isIPv6(host) : !(isIPv4(host) || HOSTNAME.test(host))) {
    const hint =
      !bracketed && isIPv6(host) ? ' (an IPv6 address goes in brackets: [::1]:10000)' : ''
    return { ok: false, message: `${show(value)} has an invalid host${hint}`, fix }
  }
  const port = Number(digits)
  if (port > 65_535)
    return {
      ok: false,
      message: `port ${digits} is out of range`,
      fix: 'use a port from 1 to 65535',
    }
  return { ok: true, value: { host, port } }
}

function splitListen(
  text: unknown,
): { host: string; digits: string; bracketed: boolean } | undefined {
  if (typeof text !== 'string') return undefined
  if (/^\d+$/.test(text)) return { host: DEFAULTS.hs2.listen.host, digits: text, bracketed: false }
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^[\]]+):(\d+)$/.exec(text)
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined
  return { host: m[1], digits: m[2], bracketed: text.startsWith('[') }
}

/** Route names appear in logs and (later) admin URLs, hence the conservative alphabet. */
export function routeName(value: unknown): Verdict<string> {
  if (typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value))
    return { ok: true, value }
  const fix =
    'use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. prod'
  return { ok: false, message: `${show(value)} is not a valid route name`, fix }
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A value as the user would recognise it in a message (strings quoted, so whitespace shows). */
export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value)
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** 127.0.0.0/8 (also IPv4-mapped), `::1` in any spelling and `localhost`: reachable from this host only. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true
  if (isIPv4(host)) return LOOPBACK.check(host, 'ipv4')
  return isIPv6(host) && LOOPBACK.check(host, 'ipv6')
}

export const ADMIN_TOKEN_MIN = 16

/**
 * ZooKeeper digest credentials, `user:password` (the scheme is always digest). Messages never
 * contain the value.
 */
export function zkDigestAuth(value: unknown): Verdict<string> {
  const fix = 'write user:password, e.g. hive-ha-proxy:<a long random password>, quoted in YAML'
  if (typeof value !== 'string')
    return {
      ok: false,
      message: 'ZooKeeper digest credentials must be a string (value not shown)',
      fix,
    }
  const colon = value.indexOf(':')
  if (colon <= 0 || colon === value.length - 1)
    return {
      ok: false,
      message:
        'ZooKeeper digest credentials need a user and a password separated by ":" (value not shown)',
      fix,
    }
  if (!/^[\x21-\x7e]+$/.test(value))
    return {
      ok: false,
      message:
        'ZooKeeper digest credentials must be printable ASCII without spaces (value not shown)',
      fix,
    }
  return { ok: true, value }
}

/**
 * The admin bearer token. Messages never contain the value: it is a secret, and problems are
 * printed and logged.
 */
export function adminToken(value: unknown): Verdict<string> {
  const fix = 'use a long random token, e.g. the output of openssl rand -hex 24'
  if (typeof value !== 'string')
    return {
      ok: false,
      message: 'the admin token must be a string (value not shown)',
      fix: `${fix}, quoted in YAML`,
    }
  if (value.length < ADMIN_TOKEN_MIN) {
    return {
      ok: false,
      message: `the admin token is too short (${value.length} characters, at least ${ADMIN_TOKEN_MIN} required)`,
      fix,
    }
  }
  if (!/^[\x21-\x7e]+$/.test(value)) {
    return {
      ok: false,
      message: 'the admin token must be printable ASCII without spaces (value not shown)',
      fix,
    }
  }
  return { ok: true, value }
}

const ZNODE_SEGMENT = /^[A-Za-z0-9_.-]+$/

/**
 * Hive on MR3's `hive.mr3.zookeeper.appid.namespace`: whitespace and leading/trailing `/` trimmed;
 * `/`-separated segments of letters, digits, `_`, `-`, `.` (not `.` or `..` alone).
 */
export function mr3AppIdNamespace(value: unknown): Verdict<string> {
  const fix = 'use a znode name such as mr3AppId (letters, digits, "_", "-", "."; nested with "/")'
  if (typeof value !== 'string')
    return { ok: false, message: `${show(value)} is not a znode path`, fix }
  const ns = trimZnodePath(value.trim())
  if (ns === '')
    return {
      ok: false,
      message: `${show(value)} is empty`,
      fix: `remove the key, or ${fix.slice(0, 1).toLowerCase()}${fix.slice(1)}`,
    }
  const bad = ns.split('/').some((seg) => !ZNODE_SEGMENT.test(seg) || seg === '.' || seg === '..')
  if (bad) return { ok: false, message: `${show(value)} is not a valid ZooKeeper path`, fix }
  return { ok: true, value: ns }
}
