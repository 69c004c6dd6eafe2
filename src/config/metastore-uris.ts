/**
 * The two meanings of a metastore route's `uris` (hive-ha-semantics.md §4.2, §4.6):
 * - static: Hive's `hive.metastore.uris`, `thrift://h1:9083,thrift://h2:9083`, in configured order;
 * - zookeeper (Hive 4 discovery): the ZooKeeper quorum `zk1:2181,zk2`.
 * Pure functions; every bad entry is reported (not only the first), each with a fix.
 */
import { DEFAULTS } from '../defaults.js'
import { show, type Verdict } from './checks.js'
import type { HostPort } from './types.js'
import { badZnodeElement, portNumber, splitHostEntry, trimZnodePath } from './host-entry.js'

export interface Issue {
  message: string
  fix: string
}

const HMS_PORT = DEFAULTS.metastore.listen.port
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s

/**
 * Hive splits on `,` without trimming and Java's `split` drops trailing empty strings; here every
 * entry is trimmed (lenient) and trailing empties are dropped the same way.
 */
function entriesOf(text: string): string[] {
  const entries = text.split(',').map((e) => e.trim())
  while (entries.length > 1 && entries[entries.length - 1] === '') entries.pop()
  return entries
}

/**
 * `thrift://host:port` list -> backends in configured order. Hive requires a scheme and has no
 * default port (a URI without one fails at connect), so both are required here; `thrift` is the
 * only scheme (Hive's HTTP client builds its URL from a thrift:// URI and the HTTP path). A host:port listed twice is a mistake.
 */
export function parseMetastoreUris(text: string): { backends: HostPort[]; issues: Issue[] } {
  const backends: HostPort[] = []
  const issues: Issue[] = []
  const seen = new Set<string>()
  for (const entry of entriesOf(text)) {
    const parsed = parseUri(entry)
    if ('message' in parsed) {
      issues.push(parsed)
      continue
    }
    const id = `${parsed.host.toLowerCase()}:${parsed.port}`
    if (seen.has(id)) {
      issues.push({ message: `${show(entry)} is listed twice`, fix: 'list each metastore once' })
      continue
    }
    seen.add(id)
    backends.push(parsed)
  }
  return { backends, issues }
}

function parseUri(entry: string): HostPort | Issue {
  if (entry === '') return { message: 'empty entry in the URI list', fix: 'remove the extra ","' }
  const m = SCHEME.exec(entry)
  if (m === null) {
    const hostPort = /:\d+$/.test(entry) ? entry : `${entry}:${HMS_PORT}`
    return { message: `${show(entry)} has no scheme`, fix: `write thrift://${hostPort}` }
  }
  const scheme = m[1] ?? ''
  const rest = m[2] ?? ''
  if (scheme.toLowerCase() !== 'thrift') {
    const fix = `write thrift://host:port (Hive writes metastore URIs as thrift:// in both transport modes; transportMode: http makes the route speak HTTP to them)`
    return { message: `${show(entry)} has the scheme "${scheme}", not thrift`, fix }
  }
  const end = rest.search(/[/?#]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  const tail = end === -1 ? '' : rest.slice(end)
  const shortFix = `write just thrift://${authority === '' ? 'host' : authority}`
  if (tail !== '' && tail !== '/')
    return { message: `${show(entry)} has a path or query ${show(tail)}`, fix: shortFix }
  if (authority.includes('@'))
    return {
      message: `${show(entry)} has user information`,
      fix: `write just thrift://${authority.slice(authority.lastIndexOf('@') + 1)}`,
    }
  const hp = parseHostPort(authority, entry)
  if ('message' in hp) return hp
  if (hp.port === undefined) {
    return {
      message: `${show(entry)} has no port (Hive has no default metastore port; the URI would fail at connect)`,
      fix: `write thrift://${hp.hostText}:${HMS_PORT} (${HMS_PORT} is the usual metastore port)`,
    }
  }
  return { host: hp.host, port: hp.port }
}

/**
 * ZooKeeper quorum -> connect string with `defaultPort` appended to every host written without a
 * port (Hive's ZooKeeperHiveHelper does the same). A chroot is refused: on a port-less host Hive
 * would corrupt it (§4.6), and the namespace can carry the same path.
 */
export function parseZkQuorum(
  text: string,
  defaultPort: number,
): { quorum: string; issues: Issue[] } {
  const parts: string[] = []
  const issues: Issue[] = []
  for (const entry of entriesOf(text)) {
    if (entry === '') {
      issues.push({ message: 'empty entry in the ZooKeeper quorum', fix: 'remove the extra ","' })
    } else if (entry.includes('://')) {
      const fix =
        'write the ZooKeeper quorum, e.g. zk1:2181,zk2:2181, or drop discovery: zookeeper for a thrift:// list'
      issues.push({
        message: `${show(entry)} is a URI, but with ZooKeeper discovery the URIs are the ZooKeeper quorum`,
        fix,
      })
    } else if (entry.includes('/')) {
      const fix =
        'drop the /path and put it in front of the namespace instead, e.g. zooKeeperNamespace: chroot/hive_metastore'
      issues.push({ message: `${show(entry)} has a chroot path`, fix })
    } else {
      const hp = parseHostPort(entry, entry)
      if ('message' in hp) issues.push(hp)
      else parts.push(`${hp.hostText}:${hp.port ?? defaultPort}`)
    }
  }
  return { quorum: parts.join(','), issues }
}

interface HostPortText {
  /** without IPv6 brackets */
  host: string
  /** as written, brackets kept */
  hostText: string
  port: number | undefined
}

function parseHostPort(authority: string, entry: string): HostPortText | Issue {
  const e = splitHostEntry(authority, { zoneId: false })
  if (!e.ok) {
    switch (e.problem) {
      case 'bad-ipv6':
        return {
          message: `${show(entry)} has an invalid bracketed IPv6 address`,
          fix: 'write [<ipv6>]:<port>',
        }
      case 'unbracketed-ipv6':
        return {
          message: `${show(entry)} has an IPv6 address without brackets`,
          fix: `write it as [<ipv6>]:<port>`,
        }
      case 'no-host':
        return { message: `${show(entry)} has no host`, fix: 'write host:port' }
      case 'bad-host':
        return {
          message: `${show(e.host)} in ${show(entry)} is not a host name or IP address`,
          fix: 'use letters, digits, "-", "." (IPv6 in [brackets])',
        }
    }
  }
  if (e.portText === undefined) return { host: e.host, hostText: e.hostText, port: undefined }
  const port = portNumber(e.portText)
  if (port === undefined)
    return {
      message: `bad port ${show(e.portText)} in ${show(entry)}`,
      fix: 'use a port from 1 to 65535',
    }
  return { host: e.host, hostText: e.hostText, port }
}

/**
 * A ZooKeeper namespace: leading/trailing `/` stripped, nested `a/b` kept; empty means the default;
 * empty, `.`/`..` or control-character path elements are refused (ZooKeeper would).
 */
export function zkNamespace(value: unknown): Verdict<string> {
  const fallback = DEFAULTS.metastore.zooKeeperNamespace
  const fix = `use a znode path such as ${fallback}`
  if (typeof value !== 'string')
    return { ok: false, message: `${show(value)} is not a znode path`, fix }
  const ns = trimZnodePath(value.trim())
  if (value.trim() === '') return { ok: true, value: fallback }
  const bad = badZnodeElement(ns)
  if (ns === '' || bad !== undefined)
    return { ok: false, message: `${show(value)} is not a valid ZooKeeper path`, fix }
  return { ok: true, value: ns }
}
