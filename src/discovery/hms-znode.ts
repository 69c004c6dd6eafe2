import { backendKey } from '../backends/backend.js'
import type { ChildParse } from './zk-children.js'

/**
 * Hive 4 metastore registrations (hive-ha-semantics.md §4.6): EPHEMERAL_SEQUENTIAL children of
 * `/<metastore.zookeeper.namespace>` named `<host>:<port><10-digit counter>` (no separator), data
 * `<host>:<port>`. Only the data is trusted; the name is just the source shown to operators.
 */
export function parseHmsZnode(name: string, data: Buffer): ChildParse {
  const text = data.toString('utf8').trim()
  const i = text.lastIndexOf(':')
  if (text === '' || i <= 0)
    return { ok: false, source: name, reason: `data "${text}" is not host:port` }
  const host = text.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const portText = text.slice(i + 1)
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
  if (!(port >= 1 && port <= 65535))
    return { ok: false, source: name, reason: `bad port "${portText}" in "${text}"` }
  return { ok: true, backend: { key: backendKey(host, port), host, port, source: name } }
}
