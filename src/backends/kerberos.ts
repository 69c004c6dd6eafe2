/**
 * What a Kerberos client needs to reach the instances of one HS2 route through the proxy, from the
 * `hive.server2.authentication` and `hive.server2.authentication.kerberos.principal` each instance
 * published (design decision 2: the proxy never terminates SASL, it can only say what to set).
 *
 * The trap this exists for: the JDBC driver normally takes the principal from the instance's znode
 * and replaces `_HOST` with the host it connects to (hive-ha-semantics.md §2.2, §5.2). Through the
 * proxy the client dials the proxy, so a `_HOST` principal becomes `hive/<proxy host>@REALM`, which
 * no instance holds; and a principal written out names one instance. A client behind the proxy
 * authenticates only where its one `principal=` is accepted, so every instance must accept the
 * same one.
 *
 * Pure: no I/O, no clock.
 */
import type { BackendInfo } from './backend.js'

/** The Hadoop placeholder HiveServer2 replaces with its own canonical host name at login. */
export const HOST_PATTERN = '_HOST'

/** One route's instances as Kerberos sees them (plain data: /routes shows it as is). */
export interface KerberosSummary {
  /** instances whose `hive.server2.authentication` includes KERBEROS (or that publish a principal) */
  kerberosInstances: number
  /** instances that publish their authentication at all (legacy znodes and static lists do not) */
  publishing: number
  /** distinct `hive.server2.authentication` values published, sorted */
  authentications: string[]
  /** effective principal (`_HOST` replaced by the instance's host) -> backend keys, sorted */
  principals: Record<string, string[]>
  /**
   * the one principal every Kerberos instance accepts, which clients set as `principal=` in their
   * URL; undefined when there is none (no Kerberos, or they differ)
   */
  clientPrincipal: string | undefined
  /** the Kerberos instances name different principals: no single client URL works for all */
  mismatch: boolean
  /**
   * when they differ only by the host part (`hive/hs2a.example.com@R`, `hive/hs2b.example.com@R`,
   * the usual `hive/_HOST@R` set-up): that pattern, e.g. `hive/_HOST@R`
   */
  perHostPattern: string | undefined
  /** some instances use Kerberos and some do not, or they publish different methods */
  mixedAuthentication: boolean
  /** for operators: what the client must set, or what to change; undefined when nothing to say */
  advice: string | undefined
}

/**
 * Hadoop's `SecurityUtil.getServerPrincipal` rule: only a principal of exactly three parts
 * `service/_HOST@REALM` is rewritten, with the host lower-cased; anything else is returned as is.
 */
export function expandPrincipal(principal: string, host: string): string {
  const parts = principal.split(/[/@]/)
  if (parts.length !== 3 || parts[1] !== HOST_PATTERN) return principal
  return `${parts[0]}/${host.toLowerCase()}@${parts[2]}`
}

/** KERBEROS among the (4.x: comma-separated) methods, case-insensitive as HiveConf reads them. */
export function usesKerberos(b: Pick<BackendInfo, 'authentication' | 'principal'>): boolean {
  if (b.authentication === undefined) return b.principal !== undefined
  return b.authentication.split(',').some((m) => m.trim().toUpperCase() === 'KERBEROS')
}

/**
 * The summary of one discovery read; undefined when no instance publishes its authentication (a
 * static list, legacy znodes, a metastore route): there is nothing to show.
 */
export function kerberosSummary(backends: readonly BackendInfo[]): KerberosSummary | undefined {
  const publishing = backends.filter(
    (b) => b.authentication !== undefined || b.principal !== undefined,
  )
  if (publishing.length === 0) return undefined
  const authentications = [
    ...new Set(publishing.map((b) => (b.authentication ?? '').toUpperCase())),
  ].sort()
  const kerberos = publishing.filter(usesKerberos)
  // a Map, then own properties: a published name can never reach Object.prototype
  const byPrincipal = new Map<string, string[]>()
  for (const b of kerberos) {
    const p = b.principal === undefined ? '' : expandPrincipal(b.principal, b.host)
    byPrincipal.set(p, [...(byPrincipal.get(p) ?? []), b.key].sort())
  }
  const names = [...byPrincipal.keys()].sort()
  const principals: Record<string, string[]> = Object.fromEntries(
    names.map((n) => [n, byPrincipal.get(n) ?? []]),
  )
  const mismatch = names.length > 1
  const only = names.length === 1 ? names[0] : undefined
  const clientPrincipal = only === '' ? undefined : only
  const perHostPattern = mismatch ? hostOnlyPattern(names) : undefined
  const mixedAuthentication =
    authentications.length > 1 || (kerberos.length > 0 && kerberos.length < publishing.length)
  const summary: KerberosSummary = {
    kerberosInstances: kerberos.length,
    publishing: publishing.length,
    authentications,
    principals,
    clientPrincipal,
    mismatch,
    perHostPattern,
    mixedAuthentication,
    advice: undefined,
  }
  summary.advice = advise(summary)
  return summary
}

/** What a log line, /routes and `status` say about a summary. */
function advise(s: KerberosSummary): string | undefined {
  const fix =
    'Fix: give every HiveServer2 of this route one shared service principal (the same entry in every ' +
    'keytab, and hive.server2.authentication.kerberos.principal set to it on every instance), and ' +
    'have clients set principal=<that principal> in their JDBC URL'
  const mixed = s.mixedAuthentication
    ? ` The instances also publish different authentication methods (${s.authentications.map((a) => a || '(none)').join(', ')}): a client set up for one fails on the others.`
    : ''
  if (s.mismatch && s.perHostPattern !== undefined) {
    return (
      `The instances run as per-host principals (${s.perHostPattern}, ${HOST_PATTERN} = each instance's host): ` +
      `a client names one principal, and through the proxy the driver replaces ${HOST_PATTERN} with the host it dials ` +
      '(the proxy), which no instance holds; a principal written out names one instance, so the client ' +
      `authenticates only there. ${fix}, written out (a ${HOST_PATTERN} there becomes the host the client dials, ` +
      "so it works only when that name is the shared principal's host, with kerberosEnableCanonicalHostnameCheck=false)." +
      mixed
    )
  }
  if (s.mismatch) {
    const names = Object.keys(s.principals).map((p) => p || '(none published)')
    return (
      `The instances name different principals (${names.join(', ')}): a client names one, so it authenticates ` +
      `only to the instances with that principal. ${fix}.${mixed}`
    )
  }
  if (s.clientPrincipal !== undefined) {
    return (
      `Kerberos clients set principal=${s.clientPrincipal} in their JDBC URL: through the proxy the driver ` +
      `does not read it from ZooKeeper, and would turn ${HOST_PATTERN} into the proxy's host.${mixed}`
    )
  }
  if (s.kerberosInstances > 0)
    return `The Kerberos instances publish no principal: clients must be told it (principal= in their JDBC URL).${mixed}`
  return mixed === '' ? undefined : mixed.trim()
}

/**
 * `service/_HOST@REALM` when every principal is `service/<host>@REALM` with one service and one
 * realm (only the host differs); undefined otherwise.
 */
function hostOnlyPattern(principals: readonly string[]): string | undefined {
  const shapes = new Set<string>()
  for (const p of principals) {
    const parts = p.split(/[/@]/)
    if (parts.length !== 3 || p.indexOf('/') > p.indexOf('@')) return undefined
    shapes.add(`${parts[0]}/${HOST_PATTERN}@${parts[2]}`)
  }
  return shapes.size === 1 ? [...shapes][0] : undefined
}
