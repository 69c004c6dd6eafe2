/**
 * The `host[:port]` / `[ipv6][:port]` entries of a JDBC authority, a metastore URI or a ZooKeeper
 * quorum, and ZooKeeper path elements. Pure classification: each caller words its own problem
 * (the JDBC URL parser throws JdbcUrlError, the config loader collects problems with fixes).
 */

const HOSTNAME = /^[A-Za-z0-9_.-]+$/
const BRACKETED = /^\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\](?::(.*))?$/
/** the same, also accepting an IPv6 zone id (`[fe80::1%eth0]`), as java.net.URI does in a JDBC URL */
const BRACKETED_ZONE = /^\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9_.~-]+)?)\](?::(.*))?$/

export type HostEntry =
  /** host without brackets; hostText as written (brackets kept); portText undefined without `:port` */
  | { ok: true; host: string; hostText: string; portText: string | undefined }
  | { ok: false; problem: 'bad-ipv6' | 'unbracketed-ipv6' | 'no-host' }
  | { ok: false; problem: 'bad-host'; host: string }

export function splitHostEntry(entry: string, opts: { zoneId: boolean }): HostEntry {
  const v6 = (opts.zoneId ? BRACKETED_ZONE : BRACKETED).exec(entry)
  if (v6 !== null) {
    const host = v6[1] ?? ''
    return { ok: true, host, hostText: `[${host}]`, portText: v6[2] }
  }
  if (entry.startsWith('[')) return { ok: false, problem: 'bad-ipv6' }
  if (entry.split(':').length > 2) return { ok: false, problem: 'unbracketed-ipv6' }
  const [host = '', portText] = entry.split(':')
  if (host === '') return { ok: false, problem: 'no-host' }
  if (!HOSTNAME.test(host)) return { ok: false, problem: 'bad-host', host }
  return { ok: true, host, hostText: host, portText }
}

/** A TCP port written as 1 to 5 digits, 1..65535; undefined otherwise. */
export function portNumber(text: string): number | undefined {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN
  return port >= 1 && port <= 65_535 ? port : undefined
}

/** A znode path without leading/trailing `/` (Curator's `ZKPaths.makePath` strips them too). */
export function trimZnodePath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '')
}

/** The first element of `/`-separated `path` that ZooKeeper refuses (empty, `.`, `..`, control characters). */
export function badZnodeElement(path: string): string | undefined {
  return path
    .split('/')
    .find((seg) => seg === '' || seg === '.' || seg === '..' || /\p{Cc}/u.test(seg))
}
