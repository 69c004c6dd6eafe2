/**
 * Hive JDBC URL parsing by the Hive driver's own rules (`Utils.parseURL`, hive-ha-semantics.md §1.1),
 * and the mapping of a parsed URL to the place the proxy finds its HiveServer2 instances.
 *
 * Shape: `jdbc:hive2://<authority>/<dbName>;<sessionVars>?<hiveConfs>#<hiveVars>`.
 */
import { DEFAULTS } from '../defaults.js'
import { JdbcUrlError } from '../errors.js'
import type { HostPort, Hs2Target, Hs2TransportMode } from './types.js'
import { badZnodeElement, portNumber, splitHostEntry, trimZnodePath } from './host-entry.js'

export interface JdbcUrl {
  /** raw authority text (between `jdbc:hive2://` and the first `/`, by Hive's priority rule) */
  authority: string
  embedded: boolean
  /** `default` when the URL names none */
  dbName: string
  sessionVars: Map<string, string>
  hiveConfs: Map<string, string>
  hiveVars: Map<string, string>
}

const PREFIX = 'jdbc:hive2://'
const DEFAULT_DB = 'default'

/** Session-variable keys (case-sensitive map lookups in Hive). */
const SERVICE_DISCOVERY_MODE = 'serviceDiscoveryMode'
const ZOOKEEPER_NAMESPACE = 'zooKeeperNamespace'
const TRANSPORT_MODE = 'transportMode'
/** Deprecated hiveconf spelling of `transportMode`; when present it overrides the session var (§1.1 step 10). */
const TRANSPORT_MODE_DEPRECATED = 'hive.server2.transport.mode'
const HTTP_PATH = 'httpPath'
/** Deprecated hiveconf spelling of `httpPath`; overrides the session var like the one above. */
const HTTP_PATH_DEPRECATED = 'hive.server2.thrift.http.path'

/**
 * Parse a Hive JDBC URL exactly as Hive's driver splits it. Throws `JdbcUrlError` where Hive throws
 * (bad prefix, characters `java.net.URI` rejects, duplicate session variables).
 *
 * Traps reproduced on purpose:
 * - the authority ends at the first `/`, and only when there is none at the first `?`, then `#`:
 *   `jdbc:hive2://zk:2181?a=/tmp` has authority `zk:2181?a=` and dbName `tmp`;
 * - percent-escapes are decoded before splitting, so `%3B` separates variables like `;`;
 * - keys are greedy: `a=b=c` is key `a=b`, value `c`; segments without `=` are ignored.
 *
 * Deliberate deviation: Hive swaps the authority for a dummy with `String.replace`, i.e. at every
 * occurrence of the authority text (so a host named `j` also rewrites the `j` of `jdbc:`). We only
 * cut the authority at its known position; the rest of the URL is never rewritten.
 */
export function parseJdbcUrl(url: string): JdbcUrl {
  if (url.slice(0, PREFIX.length).toLowerCase() !== PREFIX) {
    throw new JdbcUrlError(
      `${quote(url.slice(0, 40))}${url.length > 40 ? '...' : ''} is not a Hive JDBC URL: expected it to start with ` +
        `"${PREFIX}" (e.g. jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper)`,
    )
  }
  const afterPrefix = url.slice(PREFIX.length)
  const authority = extractAuthority(afterPrefix)
  const parts = splitLikeJavaUri(afterPrefix.slice(authority.length))

  let dbName = ''
  const sessionVars = new Map<string, string>()
  // Hive strips the leading `/` of the path; an absent or bare `/` path leaves the default database.
  const pathBody = parts.path.startsWith('/') ? parts.path.slice(1) : parts.path
  const semi = pathBody.indexOf(';')
  if (semi < 0) {
    dbName = pathBody
  } else {
    dbName = pathBody.slice(0, semi)
    for (const [k, v] of keyValues(pathBody.slice(semi + 1))) {
      if (sessionVars.has(k)) {
        throw new JdbcUrlError(
          `session variable ${quote(k)} is given more than once in the JDBC URL path (Hive rejects this); keep one ${quote(`${k}=...`)}`,
        )
      }
      sessionVars.set(k, v)
    }
  }

  return {
    authority,
    embedded: authority === '',
    dbName: dbName === '' ? DEFAULT_DB : dbName,
    sessionVars,
    hiveConfs: lastWins(parts.query),
    hiveVars: lastWins(parts.fragment),
  }
}

/** What a JDBC URL says about a route: where its instances are, and the transport it speaks. */
export interface Hs2UrlRoute {
  target: Hs2Target
  transportMode: Hs2TransportMode
  /** `httpPath` without leading/trailing `/` (default `cliservice`); meaningful for http only */
  httpPath: string
  /** the `principal` session variable (the Kerberos service principal clients name), if any */
  principal: string | undefined
}

/**
 * Where a route's HS2 instances come from, from its JDBC URL:
 * - `serviceDiscoveryMode=zooKeeper` (value case-insensitive, key case-sensitive) -> ZooKeeper children;
 * - `serviceDiscoveryMode=zooKeeperHA` -> the active/passive registry;
 * - anything else -> a static `host[:port]` list (default port 10000, or 10001 for http).
 * `transportMode=http` (or the deprecated hiveconf) makes it an HTTP route on `httpPath`.
 * Throws `JdbcUrlError` when the URL is not usable by the proxy.
 */
export function hs2RouteFromJdbcUrl(url: string): Hs2UrlRoute {
  const u = parseJdbcUrl(url)
  const transportMode = transportModeOf(u)
  const httpPath = httpPathOf(u)
  const target = hs2Target(url, u, transportMode)
  const principal = u.sessionVars.get('principal') || undefined
  return { target, transportMode, httpPath, principal }
}

/** The target of `hs2RouteFromJdbcUrl` alone. */
export function hs2TargetFromJdbcUrl(url: string): Hs2Target {
  return hs2RouteFromJdbcUrl(url).target
}

function hs2Target(url: string, u: JdbcUrl, transportMode: Hs2TransportMode): Hs2Target {
  if (u.embedded) {
    throw new JdbcUrlError(
      `${quote(url)} is an embedded-mode URL (nothing between "${PREFIX}" and the first "/"); a proxy needs a ` +
        `ZooKeeper quorum or a HiveServer2 host list there, e.g. jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper ` +
        `or jdbc:hive2://hs2a:10000,hs2b:10000/`,
    )
  }
  const mode = (u.sessionVars.get(SERVICE_DISCOVERY_MODE) ?? '').toLowerCase()
  if (mode === 'zookeeper' || mode === 'zookeeperha') {
    const ha = mode === 'zookeeperha'
    const defaultNs = ha ? DEFAULTS.jdbc.zooKeeperHaNamespace : DEFAULTS.jdbc.zooKeeperNamespace
    rejectChroot(u, defaultNs)
    const quorum = zkQuorum(u.authority)
    const namespace = zkNamespace(u.sessionVars.get(ZOOKEEPER_NAMESPACE), defaultNs)
    return ha
      ? { kind: 'zookeeper-ha', quorum, namespace }
      : { kind: 'zookeeper', quorum, namespace }
  }
  rejectMistypedDiscovery(u, mode)
  // Direct mode. Hive itself rejects a multi-host direct authority ("Are you missing a '/' after the
  // hostname ?"); this proxy deliberately accepts it as a static backend list.
  const port = transportMode === 'http' ? DEFAULTS.hs2.httpListen.port : DEFAULTS.jdbc.port
  return { kind: 'static', backends: staticBackends(u.authority, port) }
}

/**
 * Deliberate deviation from Hive: Hive treats an unknown `serviceDiscoveryMode` value, or the key in
 * another case, as direct mode, which here would silently make the ZooKeeper servers "HS2
 * backends". The proxy refuses instead (`none` still means direct, as Hive's constant does).
 */
function rejectMistypedDiscovery(u: JdbcUrl, mode: string): void {
  if (mode !== '' && mode !== 'none') {
    throw new JdbcUrlError(
      `serviceDiscoveryMode=${u.sessionVars.get(SERVICE_DISCOVERY_MODE) ?? ''} is neither zooKeeper nor zooKeeperHA; ` +
        `use serviceDiscoveryMode=zooKeeper (or zooKeeperHA), or drop it for a direct host:port list`,
    )
  }
  if (mode === '' && u.sessionVars.has(ZOOKEEPER_NAMESPACE)) {
    throw new JdbcUrlError(
      `zooKeeperNamespace is set but serviceDiscoveryMode is not, so the hosts would be dialled as HiveServer2 itself; ` +
        `add serviceDiscoveryMode=zooKeeper (or zooKeeperHA), or drop zooKeeperNamespace for a direct host:port list`,
    )
  }
  for (const key of u.sessionVars.keys()) {
    if (
      key !== SERVICE_DISCOVERY_MODE &&
      key.toLowerCase() === SERVICE_DISCOVERY_MODE.toLowerCase()
    ) {
      throw new JdbcUrlError(
        `session variable "${key}" is case-sensitive in Hive and would be ignored; spell it serviceDiscoveryMode`,
      )
    }
  }
}

// ---------------------------------------------------------------------------------------------
// URL splitting (java.net.URI semantics for everything after the authority)

/** Hive's priority rule: first `/`; only if none, first `?`; only if neither, first `#`; else all. */
function extractAuthority(afterPrefix: string): string {
  for (const stop of ['/', '?', '#']) {
    const i = afterPrefix.indexOf(stop)
    if (i >= 0) return afterPrefix.slice(0, i)
  }
  return afterPrefix
}

interface UriParts {
  /** decoded; '' when absent */
  path: string
  /** decoded; undefined when there is no `?` */
  query: string | undefined
  /** decoded; undefined when there is no `#` */
  fragment: string | undefined
}

/**
 * `rest` is what follows the authority: empty or starting with `/`, `?` or `#`. Split and validate
 * it like `java.net.URI` (path up to `?`/`#`, query up to `#`, fragment after the first `#`), then
 * percent-decode each component as `getPath/getQuery/getFragment` do.
 */
function splitLikeJavaUri(rest: string): UriParts {
  const hash = rest.indexOf('#')
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash)
  const qm = beforeHash.indexOf('?')
  const rawPath = qm < 0 ? beforeHash : beforeHash.slice(0, qm)
  const rawQuery = qm < 0 ? undefined : beforeHash.slice(qm + 1)
  const rawFragment = hash < 0 ? undefined : rest.slice(hash + 1)

  checkUriChars(rawPath, 'path', PATH_CHARS)
  if (rawQuery !== undefined) checkUriChars(rawQuery, 'query (after "?")', URIC_CHARS)
  if (rawFragment !== undefined) checkUriChars(rawFragment, 'fragment (after "#")', URIC_CHARS)

  return {
    path: percentDecode(rawPath),
    query: rawQuery === undefined ? undefined : percentDecode(rawQuery),
    fragment: rawFragment === undefined ? undefined : percentDecode(rawFragment),
  }
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const UNRESERVED = `${ALPHANUM}-_.!~*'()`
/** java.net.URI path characters: pchar plus `;` and `/`; note `[` and `]` are not allowed here. */
const PATH_CHARS = new Set(`${UNRESERVED}:@&=+$,;/`)
/** java.net.URI query/fragment characters: reserved (incl. `[]`, `?`, `/`) plus unreserved; never `#`. */
const URIC_CHARS = new Set(`${UNRESERVED};/?:@&=+$,[]`)

/**
 * Throw where `java.net.URI` would: an ASCII character outside `allowed`, or a `%` not followed by
 * two hex digits. Non-ASCII characters are legal ("other" in java.net.URI) unless they are
 * whitespace/separators or control characters.
 */
function checkUriChars(text: string, where: string, allowed: ReadonlySet<string>): void {
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i)
    if (ch === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
        throw new JdbcUrlError(
          `malformed percent-escape ${quote(text.slice(i, i + 3))} in the JDBC URL ${where} ${quote(text)}; ` +
            `write a literal "%" as %25`,
        )
      }
      i += 2
      continue
    }
    const code = ch.charCodeAt(0)
    const legal = code < 0x80 ? allowed.has(ch) : !/[\p{Z}\p{Cc}]/u.test(ch)
    if (!legal) {
      const shown =
        ch === ' '
          ? 'a space'
          : /[\p{Z}\p{Cc}]/u.test(ch)
            ? `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
            : quote(ch)
      throw new JdbcUrlError(
        `illegal character ${shown} in the JDBC URL ${where} ${quote(text)} (java.net.URI rejects it, so Hive does too); ` +
          `percent-encode it as ${encodeURIComponent(ch)}`,
      )
    }
  }
}

/**
 * Decode `%HH` runs as UTF-8, like java.net.URI's decoder: malformed byte sequences become U+FFFD
 * rather than failing. Input is already validated by `checkUriChars`.
 */
function percentDecode(text: string): string {
  if (!text.includes('%')) return text
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3)
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16)
    return Buffer.from(bytes).toString('utf8')
  })
}

/**
 * The pairs Hive's `Pattern("([^;]*)=([^;]*)[;]?")` finds: one per `;`-separated segment that
 * contains `=`, the key greedy up to the segment's last `=`.
 */
function keyValues(list: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const segment of list.split(';')) {
    const eq = segment.lastIndexOf('=')
    if (eq >= 0) out.push([segment.slice(0, eq), segment.slice(eq + 1)])
  }
  return out
}

/** hiveconf/hivevar lists: duplicate keys are not an error in Hive, the last one wins. */
function lastWins(list: string | undefined): Map<string, string> {
  return new Map(list === undefined ? [] : keyValues(list))
}

// ---------------------------------------------------------------------------------------------
// Target checks

/**
 * Hive picks HTTP iff the effective `transportMode` equals `http` (case-insensitive); the deprecated
 * hiveconf `hive.server2.transport.mode` replaces the session var when both are set. Any other value
 * is binary for Hive; here only `binary` (or nothing) is, since a typo would silently make an HTTP
 * route binary.
 */
function transportModeOf(u: JdbcUrl): Hs2TransportMode {
  const deprecated = u.hiveConfs.get(TRANSPORT_MODE_DEPRECATED)
  const effective = deprecated ?? u.sessionVars.get(TRANSPORT_MODE)
  if (effective === undefined) return 'binary'
  const m = effective.toLowerCase()
  if (m === 'http' || m === 'binary') return m
  const given =
    deprecated !== undefined
      ? `?${TRANSPORT_MODE_DEPRECATED}=${deprecated}`
      : `${TRANSPORT_MODE}=${effective}`
  throw new JdbcUrlError(
    `${quote(given)} is neither binary nor http (Hive would quietly use binary); write ${TRANSPORT_MODE}=http ` +
      `for HiveServer2 over HTTP, or drop it for the binary transport`,
  )
}

/** `httpPath` (the deprecated hiveconf wins, as for the transport mode); `/` trimmed both ends. */
function httpPathOf(u: JdbcUrl): string {
  const raw = u.hiveConfs.get(HTTP_PATH_DEPRECATED) ?? u.sessionVars.get(HTTP_PATH)
  if (raw === undefined) return DEFAULTS.hs2.http.path
  const path = raw.replace(/^\/+|\/+$/g, '')
  if (path === '' || !/^[A-Za-z0-9._~!$&'()*+,=:@%/-]+$/.test(path) || path.includes('//')) {
    throw new JdbcUrlError(
      `${quote(`${HTTP_PATH}=${raw}`)} is not a usable HTTP path; write the servlet path of hive.server2.thrift.http.path, ` +
        `e.g. ${HTTP_PATH}=${DEFAULTS.hs2.http.path}`,
    )
  }
  return path
}

/**
 * The first `/` ends the authority, so `zk:2181/hive/prod;serviceDiscoveryMode=zooKeeper` puts the
 * would-be chroot into dbName. A database name never contains `/`, so in ZooKeeper modes such a
 * dbName can only be a chroot attempt and is rejected (Hive would accept it and fail at `USE`).
 * A plain dbName (`/sales;...`) is accepted: it is the client's business, not the route's.
 */
function rejectChroot(u: JdbcUrl, defaultNs: string): void {
  if (!u.dbName.includes('/')) return
  const chroot = trimZnodePath(u.dbName)
  const ns = u.sessionVars.get(ZOOKEEPER_NAMESPACE) || defaultNs
  throw new JdbcUrlError(
    `${quote(`${u.authority}/${u.dbName}`)}: a ZooKeeper chroot is not expressible in a Hive JDBC URL (the first "/" ` +
      `ends the quorum, so ${quote(u.dbName)} is read as the database name); drop it and use ` +
      `zooKeeperNamespace=${chroot}/${ns.replace(/^\/+/, '')}`,
  )
}

/**
 * `zooKeeperNamespace`: unset or empty -> Hive's default for the mode. Leading/trailing `/` are
 * stripped (Curator's `ZKPaths.makePath` does the same); nested `a/b` is kept. Empty after stripping,
 * empty path segments, `.`/`..` segments and control characters are rejected (ZooKeeper would).
 */
function zkNamespace(raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw === '') return fallback
  const ns = trimZnodePath(raw)
  const fix = `use a znode path such as zooKeeperNamespace=${fallback}`
  if (ns === '')
    throw new JdbcUrlError(`${quote(`${ZOOKEEPER_NAMESPACE}=${raw}`)} names no znode; ${fix}`)
  const seg = badZnodeElement(ns)
  if (seg !== undefined) {
    throw new JdbcUrlError(
      `${quote(`${ZOOKEEPER_NAMESPACE}=${raw}`)} is not a valid ZooKeeper path (bad element ${quote(seg)}); ${fix}`,
    )
  }
  return ns
}

// ---------------------------------------------------------------------------------------------
// Authority lists

interface AuthorityEntry {
  /** host without IPv6 brackets */
  host: string
  /** host as written, brackets kept */
  hostText: string
  /** undefined when the entry has no `:port` */
  port: number | undefined
}

/**
 * ZooKeeper connect string: the authority with `:<2181>` appended to every host lacking a port
 * (Hive's `ZooKeeperHiveHelper`; the plain ZooKeeper client defaults the same way).
 * Trap: node-zookeeper-client splits each entry on `:`, so a bracketed IPv6 entry produced here is
 * only usable by a ZooKeeper client that understands `[v6]:port`.
 */
function zkQuorum(authority: string): string {
  return parseAuthorityList(authority, 'ZooKeeper quorum')
    .map((e) => `${e.hostText}:${e.port ?? DEFAULTS.jdbc.zooKeeperPort}`)
    .join(',')
}

/** Direct mode backends; `defaultPort` for entries without one; the same host:port twice is a config mistake. */
function staticBackends(authority: string, defaultPort: number): HostPort[] {
  const seen = new Set<string>()
  const out: HostPort[] = []
  for (const e of parseAuthorityList(authority, 'HiveServer2 host list')) {
    const port = e.port ?? defaultPort
    const id = `${e.hostText.toLowerCase()}:${port}`
    if (seen.has(id)) {
      throw new JdbcUrlError(
        `HiveServer2 ${quote(id)} appears twice in ${quote(authority)}; list each host:port once`,
      )
    }
    seen.add(id)
    out.push({ host: e.host, port })
  }
  return out
}

/** Comma-separated `host[:port]` / `[v6][:port]` entries; throws `JdbcUrlError` naming the bad part. */
function parseAuthorityList(authority: string, what: string): AuthorityEntry[] {
  const misplaced = authority.match(/[;=?#@]/)
  if (misplaced !== null) {
    throw new JdbcUrlError(
      `the ${what} ${quote(authority)} contains ${quote(misplaced[0])}: a "/" is missing after the host list ` +
        `(Hive ends the authority at the first "/", even when a "?" or "#" comes earlier); write ` +
        `jdbc:hive2://<host list>/;<session vars>?<hive confs>`,
    )
  }
  return authority.split(',').map((entry) => parseAuthorityEntry(entry, authority, what))
}

function parseAuthorityEntry(entry: string, authority: string, what: string): AuthorityEntry {
  if (entry === '') {
    throw new JdbcUrlError(`empty host in the ${what} ${quote(authority)}; remove the extra ","`)
  }
  const e = splitHostEntry(entry, { zoneId: true })
  if (!e.ok) {
    switch (e.problem) {
      case 'bad-ipv6':
        throw new JdbcUrlError(
          `${quote(entry)} in the ${what} is not a valid bracketed IPv6 address; write [<ipv6>] or [<ipv6>]:<port>`,
        )
      case 'unbracketed-ipv6':
        throw new JdbcUrlError(
          `${quote(entry)} in the ${what} looks like an IPv6 address without brackets; write it as [${entry}] or [${entry}]:<port>`,
        )
      case 'no-host':
        throw new JdbcUrlError(`${quote(entry)} in the ${what} has no host; write host:port`)
      case 'bad-host':
        throw new JdbcUrlError(
          `${quote(e.host)} in the ${what} is not a host name or IP address; use letters, digits, "-", "." (IPv6 in [brackets])`,
        )
    }
  }
  return {
    host: e.host,
    hostText: e.hostText,
    port: e.portText === undefined ? undefined : parsePort(e.portText, entry, what),
  }
}

function parsePort(text: string, entry: string, what: string): number {
  const port = portNumber(text)
  if (port === undefined) {
    throw new JdbcUrlError(
      `bad port ${quote(text)} in ${quote(entry)} of the ${what}; use a number from 1 to 65535`,
    )
  }
  return port
}

function quote(s: string): string {
  return JSON.stringify(s)
}
