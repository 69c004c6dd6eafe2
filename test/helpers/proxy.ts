import { Writable } from 'node:stream'
import type { Test } from 'tap'
import { HiveHaProxy, type ProxyDeps } from '../../src/proxy.js'
import { createLogger } from '../../src/logger.js'
import { DEFAULTS } from '../../src/defaults.js'
import type {
  Hs2RouteConfig,
  Hs2Target,
  MetastoreRouteConfig,
  MetastoreTarget,
  ProxyConfig,
} from '../../src/config/types.js'

/** Parsed pino records, for asserting on what was logged. */
export class LogSink extends Writable {
  readonly records: Record<string, unknown>[] = []
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString().split('\n'))
      if (line.trim() !== '') this.records.push(JSON.parse(line) as Record<string, unknown>)
    cb()
  }
  messages(): string[] {
    return this.records.map((r) => String(r.msg))
  }
  text(): string {
    return JSON.stringify(this.records)
  }
}

export function hs2Route(target: Hs2Target, over: Partial<Hs2RouteConfig> = {}): Hs2RouteConfig {
  return {
    name: 'hs2',
    listen: { host: '127.0.0.1', port: 0 },
    url: 'jdbc:hive2://test/',
    target,
    policy: 'round-robin',
    connectTimeoutMs: 1000,
    maxConnectAttempts: 3,
    idleTimeoutMs: 0,
    firstResponseTimeoutMs: 10_000,
    slowStartMs: 0,
    ejection: { failures: 2, baseMs: 60_000, maxMs: 120_000 },
    // probes are off unless a test asks: they would add connections and calls to the stubs' counts
    healthCheck: { ...DEFAULTS.hs2.healthCheck, probe: 'none' },
    tcpIo: 'auto',
    transportMode: 'binary',
    http: { ...DEFAULTS.hs2.http },
    mr3AppIdNamespace: undefined,
    tls: undefined,
    backendTls: undefined,
    fromHiveSite: undefined,
    kerberosPrincipal: undefined,
    ...over,
  }
}

export function metastoreRoute(
  target: MetastoreTarget,
  over: Partial<MetastoreRouteConfig> = {},
): MetastoreRouteConfig {
  return {
    name: 'metastore',
    listen: { host: '127.0.0.1', port: 0 },
    uris: 'test',
    target,
    selection: 'SEQUENTIAL',
    mode: 'auto',
    connectTimeoutMs: 1000,
    maxConnectAttempts: 3,
    idleTimeoutMs: 0,
    ejection: { failures: 2, baseMs: 60_000, maxMs: 120_000 },
    healthCheck: { ...DEFAULTS.metastore.healthCheck, probe: 'none' },
    maxMessageBytes: 64 * 1024 * 1024,
    maxReplayBytes: 1024 * 1024,
    tls: undefined,
    backendTls: undefined,
    transportMode: 'binary',
    http: { ...DEFAULTS.metastore.http },
    ...over,
  }
}

/** Starts a `HiveHaProxy` with the given routes on port 0 (HS2 routes first in `ports`); stopped at teardown. */
export async function startTestProxy(
  t: Test,
  routes: Hs2RouteConfig[],
  opts: {
    zookeeper?: Partial<ProxyConfig['zookeeper']>
    deps?: Partial<ProxyDeps>
    metastore?: MetastoreRouteConfig[]
  } = {},
): Promise<{ proxy: HiveHaProxy; ports: number[]; logs: LogSink }> {
  const logs = new LogSink()
  const cfg: ProxyConfig = {
    logLevel: 'debug',
    logFormat: 'json',
    shutdownGraceMs: 1000,
    zookeeper: { ...DEFAULTS.zookeeper, sessionTimeoutMs: 4000, ...opts.zookeeper },
    hs2: routes,
    metastore: opts.metastore ?? [],
    admin: { listen: { host: '127.0.0.1', port: 0 }, token: undefined },
  }
  const proxy = new HiveHaProxy(cfg, { logger: createLogger('debug', logs), ...opts.deps })
  const addrs = await proxy.start()
  t.teardown(() => proxy.stop(0))
  return { proxy, ports: addrs.map((a) => a.port), logs }
}

/** Polls `cond` every 20 ms; rejects after `timeoutMs` naming what it waited for. */
export async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export { seededRandom } from './random.js'
