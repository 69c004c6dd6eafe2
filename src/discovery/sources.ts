import type { Logger } from '../logger.js'
import type { HostPort } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import type { Discovery } from './discovery.js'
import { StaticDiscovery } from './static.js'
import { ZkChildrenDiscovery, type ChildParse } from './zk-children.js'
import type { ZkSession } from './zk-session.js'
import {
  PUBLISHED,
  isServerUriChild,
  parseHs2Znode,
  type Hs2Instance,
  type RouteMode,
} from './hs2-znode.js'
import { haRegistryRoot, isHaInstanceChild, parseHaRecord } from './ha-record.js'
import { parseHmsZnode } from './hms-znode.js'

/** Each registry layout Hive uses, as a ZkChildrenDiscovery. */

export interface ZkSourceOptions {
  session: ZkSession
  namespace: string
  logger: Logger
  retryMs: number
  /** HS2 only: the route's transport; instances of the other one are skipped with the reason */
  mode?: RouteMode
  /**
   * HS2 only: the route dials backends with TLS where they say so (a `backendTls` block). Without
   * it an HTTP route skips TLS instances with the fix (it would speak plain HTTP to them); a binary
   * route pipes the client's own TLS to them as bytes.
   */
  backendTls?: boolean
}

/**
 * The backend of an HS2 registration, or why the route cannot use it; `leader` only for the HA
 * registry's leader.
 */
function hs2Backend(i: Hs2Instance, o: ZkSourceOptions, leader: boolean): ChildParse {
  if (i.ssl === true && o.mode === 'http' && o.backendTls !== true)
    return {
      ok: false,
      source: i.znode,
      reason: `${PUBLISHED.useSsl}=true: this route speaks plain HTTP to backends; add backendTls (mode auto) to reach it over TLS`,
    }
  const backend: BackendInfo = { key: i.key, host: i.host, port: i.port, source: i.znode }
  if (leader) backend.leader = true
  if (i.path !== undefined) backend.path = i.path
  if (i.ssl === true) backend.ssl = true
  if (i.authentication !== undefined) backend.authentication = i.authentication
  if (i.principal !== undefined) backend.principal = i.principal
  return { ok: true, backend }
}

/**
 * `serviceDiscoveryMode=zooKeeper`: children of `/<ns>`; only `serverUri=` children are instances
 * (others, like a privilege synchronizer's `leader` latch, are ignored). Data never changes after
 * registration. HTTP-only instances are skipped with the reason (the front is binary).
 */
export function hs2ZkDiscovery(o: ZkSourceOptions): Discovery {
  return new ZkChildrenDiscovery({
    ...o,
    path: `/${o.namespace}`,
    kind: 'zookeeper',
    accept: isServerUriChild,
    watchData: false,
    parse: (name, data): ChildParse => {
      const p = parseHs2Znode(name, data, o.mode)
      if (!p.ok) return { ok: false, source: p.znode, reason: p.reason }
      return hs2Backend(p.instance, o, false)
    },
  })
}

/**
 * `serviceDiscoveryMode=zooKeeperHA`: `instance-*` children of `/<ns>-unsecure/instances`, whose
 * JSON flips between activeEndpoint and passiveEndpoint on leadership moves; only the leader is a
 * backend, the others are listed as skipped.
 */
export function hs2HaDiscovery(o: ZkSourceOptions): Discovery {
  return new ZkChildrenDiscovery({
    ...o,
    path: `${haRegistryRoot(o.namespace)}/instances`,
    kind: 'zookeeper-ha',
    accept: isHaInstanceChild,
    watchData: true,
    parse: (name, data): ChildParse => {
      const p = parseHaRecord(name, data, o.mode)
      if (!p.ok) return { ok: false, source: p.znode, reason: p.reason }
      const i = p.instance
      if (i.leader !== true)
        return { ok: false, source: i.znode, reason: 'passive (not the leader)' }
      return hs2Backend(i, o, true)
    },
  })
}

/** Hive 4 `metastore.service.discovery.mode=zookeeper`: every child of `/<ns>` is a metastore. */
export function metastoreZkDiscovery(o: ZkSourceOptions): Discovery {
  return new ZkChildrenDiscovery({
    ...o,
    path: `/${o.namespace}`,
    kind: 'zookeeper',
    accept: () => true,
    watchData: false,
    parse: parseHmsZnode,
  })
}

/** A fixed list; `path` (HTTP routes) is the servlet path of every backend. */
export function staticDiscovery(list: readonly HostPort[], path?: string): Discovery {
  return new StaticDiscovery(list, path)
}
