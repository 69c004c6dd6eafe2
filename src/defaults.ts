/**
 * Every default value of the proxy, in one place. `--help` is written from this object;
 * docs/configuration.md states the same defaults by hand: change both together.
 */
export const DEFAULTS = {
  logLevel: 'info',
  logFormat: 'auto',
  shutdownGraceMs: 30_000,
  zookeeper: {
    sessionTimeoutMs: 30_000,
    reconnectWatchdogMs: 5_000,
    probeIntervalMs: 200,
    digestAuth: undefined,
  },
  hs2: {
    listen: { host: '127.0.0.1', port: 10_000 },
    policy: 'random',
    connectTimeoutMs: 5_000,
    maxConnectAttempts: 3,
    idleTimeoutMs: 0,
    /** docs/hung-backends.md: first-answer failover */
    firstResponseTimeoutMs: 10_000,
    slowStartMs: 10_000,
    ejection: { failures: 3, baseMs: 5_000, maxMs: 120_000 },
    /** docs/hung-backends.md: HTTP routes probe (OPTIONS), binary routes do not unless `probe: tcp` */
    healthCheck: { probe: 'auto', intervalMs: 5_000, timeoutMs: 2_000, failures: 3, successes: 2 },
    tcpIo: 'auto',
    /** Hive's HTTP default port (hive.server2.thrift.http.port) for routes with transportMode=http */
    httpListen: { host: '127.0.0.1', port: 10_001 },
    http: {
      path: 'cliservice',
      /** a long generated statement still fits (request bodies are held whole until answered) */
      maxBodyBytes: 16 * 1024 * 1024,
      headersTimeoutMs: 20_000,
      keepAliveTimeoutMs: 60_000,
      affinityCookie: 'hive-ha-proxy-affinity',
      affinityTtlMs: 24 * 60 * 60 * 1000,
      affinityMaxEntries: 100_000,
    },
  },
  /** Hive's own defaults for the JDBC URL (hive-ha-semantics.md §1.2) */
  jdbc: {
    port: 10_000,
    zooKeeperNamespace: 'hiveserver2',
    zooKeeperHaNamespace: 'hs2ActivePassiveHA',
    zooKeeperPort: 2181,
  },
  metastore: {
    listen: { host: '127.0.0.1', port: 9083 },
    selection: 'SEQUENTIAL',
    mode: 'auto',
    connectTimeoutMs: 5_000,
    maxConnectAttempts: 3,
    idleTimeoutMs: 0,
    ejection: { failures: 3, baseMs: 5_000, maxMs: 120_000 },
    /** docs/hung-backends.md: fb303 getStatus once plain Thrift clients were seen */
    healthCheck: { probe: 'auto', intervalMs: 5_000, timeoutMs: 2_000, failures: 3, successes: 2 },
    /** large get_partitions answers; responses are streamed, never buffered whole */
    maxMessageBytes: 1024 * 1024 * 1024,
    maxReplayBytes: 1024 * 1024,
    /** Hive 4 metastore ZooKeeper discovery (metastore.zookeeper.namespace, .client.port) */
    zooKeeperNamespace: 'hive_metastore',
    zooKeeperPort: 2181,
    /** transportMode: http (Hive 4); the listen port stays 9083, as Hive serves HTTP on it too */
    http: {
      /** metastore.client.thrift.http.path */
      path: 'metastore',
      /** add_partitions of many partitions still fits (bodies are held whole until answered) */
      maxBodyBytes: 64 * 1024 * 1024,
      headersTimeoutMs: 20_000,
      keepAliveTimeoutMs: 60_000,
    },
  },
  admin: {
    listen: { host: '127.0.0.1', port: 10_090 },
  },
} as const
