/**
 * What HS2 and metastore routes share when raw fields become a validated route: field lookup with
 * rejection bookkeeping, the ejection block, and uniqueness of names and listen addresses across
 * ALL routes of both kinds (and the admin API's address).
 */
import type { ConfigProblem } from '../errors.js'
import { formatHostPort, oneOf, take, whole, type Check } from './checks.js'
import {
  PROBE_KINDS,
  type EjectionConfig,
  type HealthCheckConfig,
  type HostPort,
  type ProbeKind,
} from './types.js'
import type { RawRoute } from './yaml-file.js'

/** Reads one field of a route: its checked value, or `fallback` (+ a problem when it was set but bad). */
export type FieldGetter = <T>(field: string, fallback: T, check: Check<T>) => T

/** Fields whose value was rejected are added to `rejected` (their default stands in for them). */
export function fieldGetter(
  r: RawRoute,
  rejected: Set<string>,
  problems: ConfigProblem[],
): FieldGetter {
  return (field, fallback, check) => {
    const before = problems.length
    const value = take(r.fields[field], fallback, check, problems)
    if (problems.length > before) rejected.add(field)
    return value
  }
}

/** Where the user set `field` of `r`, or where they would write it when it holds its default. */
export function fieldKey(r: RawRoute, field: string): string {
  return r.fields[field]?.key ?? r.keyOf(field)
}

export function buildEjection(
  r: RawRoute,
  get: FieldGetter,
  rejected: Set<string>,
  defaults: EjectionConfig,
  problems: ConfigProblem[],
): EjectionConfig {
  const ejection = {
    failures: get('ejection.failures', defaults.failures, whole(1, defaults.failures)),
    baseMs: get('ejection.baseMs', defaults.baseMs, whole(1, defaults.baseMs)),
    maxMs: get('ejection.maxMs', defaults.maxMs, whole(1, defaults.maxMs)),
  }
  // Compared only when both parsed: a rejected value has been replaced by its default.
  if (
    !rejected.has('ejection.baseMs') &&
    !rejected.has('ejection.maxMs') &&
    ejection.maxMs < ejection.baseMs
  ) {
    const message = `ejection.maxMs (${ejection.maxMs}) is below ejection.baseMs (${ejection.baseMs})`
    problems.push({
      key: fieldKey(r, 'ejection.maxMs'),
      message,
      fix: `raise maxMs to at least ${ejection.baseMs}, or lower baseMs`,
    })
  }
  return ejection
}

/** Which probes a route can send: its kind decides what `thrift` and `http` would speak to. */
export type ProbeRouteKind = 'metastore' | 'metastore-http' | 'hs2-binary' | 'hs2-http'

const PROBE_FITS: Record<ProbeRouteKind, readonly ProbeKind[]> = {
  metastore: ['auto', 'thrift', 'tcp', 'none'],
  'metastore-http': ['auto', 'http', 'tcp', 'none'],
  'hs2-binary': ['auto', 'tcp', 'none'],
  'hs2-http': ['auto', 'http', 'tcp', 'none'],
}

const PROBE_WHY: Record<ProbeRouteKind, string> = {
  metastore: 'a metastore route probes with thrift (fb303 getStatus) or tcp',
  'metastore-http':
    'a metastore route over HTTP probes with http (OPTIONS on the servlet path) or tcp',
  'hs2-binary':
    "an HS2 binary route has no protocol probe that leaves no error in HiveServer2's log; only tcp exists (it logs one per probe)",
  'hs2-http': 'an HS2 HTTP route probes with http (OPTIONS on the servlet path) or tcp',
}

/**
 * `healthCheck: { probe, intervalMs, timeoutMs, failures, successes }`. The probe must fit the
 * route; timeoutMs must be below intervalMs (probes of one backend never overlap, so a hung one is
 * marked down within intervalMs x failures + timeoutMs).
 */
export function buildHealthCheck(
  r: RawRoute,
  get: FieldGetter,
  rejected: Set<string>,
  defaults: HealthCheckConfig,
  kind: ProbeRouteKind,
  problems: ConfigProblem[],
): HealthCheckConfig {
  const fits = PROBE_FITS[kind]
  const fitting: Check<ProbeKind> = (value) => {
    const v = oneOf(PROBE_KINDS)(value)
    if (!v.ok || fits.includes(v.value)) return v
    return {
      ok: false,
      message: `probe ${v.value} does not fit this route: ${PROBE_WHY[kind]}`,
      fix: `use one of ${fits.join(', ')}`,
    }
  }
  const hc: HealthCheckConfig = {
    probe: get('healthCheck.probe', defaults.probe, fitting),
    intervalMs: get('healthCheck.intervalMs', defaults.intervalMs, whole(1, defaults.intervalMs)),
    timeoutMs: get('healthCheck.timeoutMs', defaults.timeoutMs, whole(1, defaults.timeoutMs)),
    failures: get('healthCheck.failures', defaults.failures, whole(1, defaults.failures)),
    successes: get('healthCheck.successes', defaults.successes, whole(1, defaults.successes)),
  }
  if (
    !rejected.has('healthCheck.intervalMs') &&
    !rejected.has('healthCheck.timeoutMs') &&
    hc.timeoutMs >= hc.intervalMs
  ) {
    problems.push({
      key: fieldKey(r, 'healthCheck.timeoutMs'),
      message: `healthCheck.timeoutMs (${hc.timeoutMs}) is not below healthCheck.intervalMs (${hc.intervalMs})`,
      fix: `lower timeoutMs below ${hc.intervalMs}, or raise intervalMs above ${hc.timeoutMs}`,
    })
  }
  return hc
}

/** One built route of either kind, with what it was built from. */
export interface BuiltRoute {
  raw: RawRoute
  name: string
  listen: HostPort
  rejected: Set<string>
}

/**
 * Builds every raw route of one kind with `build` (problems appended), recording each as a
 * BuiltRoute for the cross-route checks. `rejected` starts with the fields `preRejected` names:
 * those the caller already reported, so they are not reported again.
 */
export function buildEach<T extends { name: string; listen: HostPort }>(
  raw: readonly RawRoute[],
  build: (r: RawRoute, index: number, rejected: Set<string>) => T,
  preRejected: (r: RawRoute, index: number) => readonly string[] = () => [],
): { routes: T[]; built: BuiltRoute[] } {
  const built: BuiltRoute[] = []
  const routes = raw.map((r, index) => {
    const rejected = new Set(preRejected(r, index))
    const route = build(r, index, rejected)
    built.push({ raw: r, name: route.name, listen: route.listen, rejected })
    return route
  })
  return { routes, built }
}

/**
 * Names must be unique; two routes must not bind the same address (a wildcard host clashes with
 * any). Checked over HS2 and metastore routes together, the later route reports. Rejected values
 * are skipped: the default standing in for them would report false clashes.
 */
export function checkDistinct(routes: readonly BuiltRoute[], problems: ConfigProblem[]): void {
  const valid = (r: BuiltRoute, field: string): boolean => !r.rejected.has(field)
  routes.forEach((route, j) => {
    const sameName = routes.findIndex((other) => valid(other, 'name') && other.name === route.name)
    const first = routes[sameName]
    if (valid(route, 'name') && first !== undefined && sameName < j) {
      const message = `name "${route.name}" is already used by ${fieldKey(first.raw, 'name')}`
      problems.push({
        key: fieldKey(route.raw, 'name'),
        message,
        fix: 'give each route a unique name',
      })
    }
    const sameListen = routes.findIndex(
      (other) => valid(other, 'listen') && clash(other.listen, route.listen),
    )
    const taken = routes[sameListen]
    if (valid(route, 'listen') && taken !== undefined && sameListen < j) {
      const message = `${formatHostPort(route.listen)} is already the address of ${fieldKey(taken.raw, 'listen')}`
      problems.push({
        key: fieldKey(route.raw, 'listen'),
        message,
        fix: 'give each route its own listen port',
      })
    }
  })
}

/**
 * The admin API must not bind the address of any route (same clash rule as between routes); it
 * reports against its own key, since it is built after every route.
 */
export function checkAdminListen(
  admin: { listen: HostPort; key: string },
  routes: readonly BuiltRoute[],
  problems: ConfigProblem[],
): void {
  const taken = routes.find((r) => !r.rejected.has('listen') && clash(r.listen, admin.listen))
  if (taken === undefined) return
  problems.push({
    key: admin.key,
    message: `${formatHostPort(admin.listen)} is already the address of ${fieldKey(taken.raw, 'listen')}`,
    fix: 'give the admin API its own port (--admin-listen, HIVE_HA_PROXY_ADMIN_LISTEN or admin.listen)',
  })
}

const WILDCARDS = new Set(['0.0.0.0', '::'])

function clash(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.port === 0) return false // port 0 = any free port, never a clash
  return (
    a.host.toLowerCase() === b.host.toLowerCase() || WILDCARDS.has(a.host) || WILDCARDS.has(b.host)
  )
}
