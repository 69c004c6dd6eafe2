import { EventEmitter } from 'node:events'
import type zookeeper from 'node-zookeeper-client'
import { lazy } from '../lazy.js'
import { ErrorCodes, ProxyError, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { guardZkWire } from './zk-wire-guard.js'
import { defaultZkProbe, type ZkProbe, type ZkServerAddress, zkServers } from './zk-probe.js'

/** The part of node-zookeeper-client's Client the proxy uses (so tests and wrappers can stand in). */
export type ZkClient = Pick<
  zookeeper.Client,
  | 'connect'
  | 'close'
  | 'getChildren'
  | 'getData'
  | 'exists'
  | 'mkdirp'
  | 'remove'
  | 'addAuthInfo'
  | 'getSessionId'
  | 'on'
  | 'removeAllListeners'
>
export interface ZkClientOptions {
  sessionTimeout: number
  /** told when the client's reply parser failed and its connection was dropped (see zk-wire-guard) */
  onWireFault?: ((err: Error) => void) | undefined
}
export type ZkClientFactory = (connectString: string, opts: ZkClientOptions) => ZkClient

/** node-zookeeper-client, loaded with the first ZooKeeper route (a static-only proxy never needs it) */
const zkLib = lazy<typeof zookeeper>('node-zookeeper-client')

export const defaultZkClientFactory: ZkClientFactory = (connectString, opts) => {
  const client = zkLib().createClient(connectString, {
    sessionTimeout: opts.sessionTimeout,
    spinDelay: 200,
    retries: 0,
  })
  const { onWireFault } = opts
  if (onWireFault !== undefined && !guardZkWire(client, onWireFault))
    onWireFault(new Error('node-zookeeper-client internals changed; its reply parser is unguarded'))
  return client
}

export type ZkSessionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed'
export type ZkWatcher = (event: zookeeper.Event) => void

export interface ZkSessionOptions {
  connectString: string
  sessionTimeoutMs: number
  /** a client that has not been connected for this long is replaced by a new one */
  watchdogMs: number
  /**
   * while not connected, look at the servers this often (0 = never); a client still not
   * connected `2 x probeIntervalMs` after a server was seen up is replaced by a new one
   */
  probeIntervalMs: number
  /** how a server is looked at (default: the `srvr` four-letter word) */
  probe?: ZkProbe | undefined
  /** bound on one read; node-zookeeper-client queues requests forever while disconnected */
  opTimeoutMs: number
  factory: ZkClientFactory
  logger: Logger
  /** digest `user:password`, added to every new session; znodes the proxy creates are then writable only by it */
  digestAuth?: string | undefined
}

/**
 * `open`: node-zookeeper-client's default (its OPEN_ACL_UNSAFE, missing from the typings): anyone,
 * all rights. `creatorOnly`: world-readable; all rights only for the authenticated identity that
 * created the node.
 */
function acl(kind: 'open' | 'creatorOnly'): zookeeper.ACL[] {
  const { ACL, Id, Permission } = zkLib()
  return kind === 'open'
    ? [new ACL(Permission.ALL, new Id('world', 'anyone'))]
    : [
        new ACL(Permission.READ, new Id('world', 'anyone')),
        new ACL(Permission.ALL, new Id('auth', '')),
      ]
}

/**
 * One ZooKeeper session per quorum, shared by every route using it.
 *
 * Events: 'state' (ZkSessionState), 'ready' (connected: a new session or the same one back; readers
 * must re-read and re-arm watches — a watcher is a stable function, node-zookeeper-client dedupes it).
 *
 * Traps handled here (test-env.md Z2, Z7, design.md decision 3): an expired client never recovers,
 * and a client can stay 'connecting' forever against a restarted server (one with an empty data
 * dir refuses its old session) without emitting 'expired', or bounce between connected and
 * disconnected after a restart. Such a client is closed and replaced by a fresh one (a new
 * session: a fresh read and fresh watches) — on 'expired' at once; when a server is seen up again
 * but the client has not reconnected within two probe intervals; and after `watchdogMs` without a
 * connection whatever the probes say. The proxy owns no ephemeral znodes, so a new session costs
 * one re-read.
 *
 * Why the probes (node-zookeeper-client 1.1.3, ConnectionManager): between attempts it waits at
 * most `spinDelay` (200 ms) and so finds a healthy server again on its own, which keeps the
 * session (and is what happens when one server of an ensemble stops). It does not when
 * - a restarted server refuses the session because it has seen a lower zxid (an empty data dir):
 *   the server closes each attempt without an answer, the client retries forever, never
 *   'expired';
 * - the client connected in the moment between the server binding its port and loading its
 *   database: the server drops the session handshake but leaves the TCP connection open, and the
 *   client waits for the answer without a timeout (its connect timeout is cleared once TCP is up).
 * In both cases the server is up and the client is not: exactly what the probes look for.
 */
export class ZkSession extends EventEmitter {
  state: ZkSessionState = 'idle'
  /** increments every time a new client (so a new session) is created */
  generation = 0
  lastConnectedAt = 0
  readonly #opts: ZkSessionOptions
  readonly #log: Logger
  #client: ZkClient | undefined
  #watchdog: NodeJS.Timeout | undefined
  readonly #servers: ZkServerAddress[]
  readonly #probe: ZkProbe
  #probeTimer: NodeJS.Timeout | undefined
  /** bumped on every start and stop of the probing, so a round in flight from before is ignored */
  #probeEpoch = 0
  /** when a probe first saw a server up in the current disconnected spell; undefined: not yet */
  #upSince: number | undefined

  constructor(opts: ZkSessionOptions) {
    super()
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'zookeeper', quorum: opts.connectString })
    this.#servers = zkServers(opts.connectString)
    this.#probe = opts.probe ?? defaultZkProbe
  }

  get connectString(): string {
    return this.#opts.connectString
  }

  start(): void {
    if (this.state !== 'idle') return
    this.#newClient('start')
  }

  close(): void {
    if (this.state === 'closed') return
    this.#setState('closed')
    clearTimeout(this.#watchdog)
    this.#stopProbing()
    this.#dropClient()
  }

  getChildren(path: string, watcher?: ZkWatcher): Promise<string[]> {
    return this.#op(`getChildren ${path}`, (c, cb) => {
      if (watcher) c.getChildren(path, watcher, (err, children) => cb(err, children))
      else c.getChildren(path, (err, children) => cb(err, children))
    })
  }

  /** Resolves undefined when the node does not exist. */
  getData(path: string, watcher?: ZkWatcher): Promise<Buffer | undefined> {
    return this.#op(`getData ${path}`, (c, cb) => {
      const done = (err: Error | zookeeper.Exception | null, data: Buffer): void => {
        if (isNoNode(err)) cb(null, undefined)
        else cb(err, data ?? Buffer.alloc(0))
      }
      if (watcher) c.getData(path, watcher, done)
      else c.getData(path, done)
    })
  }

  /** Whether `path` exists; with a watcher, it fires when the node is created or deleted. */
  exists(path: string, watcher?: ZkWatcher): Promise<boolean> {
    return this.#op(`exists ${path}`, (c, cb) => {
      const done = (err: Error | zookeeper.Exception | null, stat: zookeeper.Stat): void =>
        cb(err, err === null && stat != null)
      if (watcher) c.exists(path, watcher, done)
      else c.exists(path, done)
    })
  }

  /**
   * Create `path` as a persistent znode, with any missing parents. Without digest auth they get
   * node-zookeeper-client's default ACL (world: all); with it, world: read and the proxy's
   * identity: all, so only proxies holding the same credentials can add or remove children.
   * An existing node is success.
   */
  createPersistent(path: string): Promise<void> {
    const acls = acl(this.#opts.digestAuth === undefined ? 'open' : 'creatorOnly')
    return this.#op(
      `create ${path}`,
      (c, cb) => c.mkdirp(path, acls, (err) => cb(isNodeExists(err) ? null : err, undefined)),
      ErrorCodes.ZK_WRITE,
    )
  }

  /** Delete `path` (any version). A node that does not exist is success. */
  remove(path: string): Promise<void> {
    return this.#op(
      `delete ${path}`,
      (c, cb) => c.remove(path, -1, (err) => cb(isNoNode(err) ? null : err, undefined)),
      ErrorCodes.ZK_WRITE,
    )
  }

  #op<T>(
    what: string,
    run: (c: ZkClient, cb: (err: Error | zookeeper.Exception | null, v: T) => void) => void,
    code: ErrorCode = ErrorCodes.DISCOVERY,
  ): Promise<T> {
    const client = this.#client
    if (client === undefined || this.state === 'closed') {
      return Promise.reject(
        new ProxyError(code, `${what}: no ZooKeeper session`, { retriable: true }),
      )
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ProxyError(
            code,
            `${what}: no answer from ZooKeeper within ${this.#opts.opTimeoutMs} ms`,
            { retriable: true },
          ),
        )
      }, this.#opts.opTimeoutMs)
      run(client, (err, v) => {
        clearTimeout(timer)
        if (err)
          reject(new ProxyError(code, `${what}: ${String(err)}`, { cause: err, retriable: true }))
        else resolve(v)
      })
    })
  }

  #newClient(why: string): void {
    this.#dropClient()
    this.generation++
    const gen = this.generation
    const client = this.#opts.factory(this.#opts.connectString, {
      sessionTimeout: this.#opts.sessionTimeoutMs,
      onWireFault: (err) =>
        this.#log.warn({ generation: gen, err }, `zookeeper client: ${err.message}`),
    })
    // sent with the session and again on every reconnect of this client
    if (this.#opts.digestAuth !== undefined)
      client.addAuthInfo('digest', Buffer.from(this.#opts.digestAuth))
    this.#client = client
    const current = (): boolean => this.#client === client && this.state !== 'closed'
    client.on('connected', () => {
      if (!current()) return
      clearTimeout(this.#watchdog)
      this.lastConnectedAt = Date.now()
      this.#setState('connected')
      this.#log.info(
        { generation: gen, sessionId: client.getSessionId().toString('hex') },
        'zookeeper connected',
      )
      this.emit('ready')
    })
    client.on('disconnected', () => {
      if (!current()) return
      this.#setState('disconnected')
      this.#log.warn({ generation: gen }, 'zookeeper disconnected; keeping last known backends')
      this.#armWatchdog()
    })
    client.on('expired', () => {
      if (!current()) return
      this.#log.warn({ generation: gen }, 'zookeeper session expired; starting a new session')
      this.#newClient('expired')
    })
    this.#setState('connecting')
    this.#log.debug({ generation: gen, why }, 'zookeeper connecting')
    this.#armWatchdog()
    client.connect()
  }

  #armWatchdog(): void {
    clearTimeout(this.#watchdog)
    this.#watchdog = setTimeout(() => {
      if (this.state === 'connected' || this.state === 'closed') return
      this.#log.warn(
        { afterMs: this.#opts.watchdogMs },
        'zookeeper not connected in time; replacing the client',
      )
      this.#newClient('watchdog')
    }, this.#opts.watchdogMs)
    this.#watchdog.unref()
  }

  #dropClient(): void {
    const c = this.#client
    this.#client = undefined
    if (c === undefined) return
    const wasConnected = this.state === 'connected'
    c.removeAllListeners()
    // a late error from the old client must not crash the process
    c.on('error', () => {})
    c.close()
    if (!wasConnected) disarmReconnect(c)
  }

  #setState(s: ZkSessionState): void {
    if (this.state === s) return
    this.state = s
    if (s === 'connecting' || s === 'disconnected') this.#startProbing()
    else this.#stopProbing()
    this.emit('state', s)
  }

  #startProbing(): void {
    if (this.#probeTimer !== undefined || this.#opts.probeIntervalMs <= 0) return
    this.#upSince = undefined
    this.#scheduleProbe(++this.#probeEpoch)
  }

  #stopProbing(): void {
    clearTimeout(this.#probeTimer)
    this.#probeTimer = undefined
    this.#upSince = undefined
    this.#probeEpoch++
  }

  /** one round at a time: the next is scheduled when this one has its answers */
  #scheduleProbe(epoch: number): void {
    const interval = this.#opts.probeIntervalMs
    this.#probeTimer = setTimeout(() => {
      const gen = this.generation
      void Promise.all(this.#servers.map((s) => this.#probe(s, interval))).then((results) => {
        if (epoch !== this.#probeEpoch) return // connected or closed meanwhile
        const up = results.findIndex((r) => r === 'serving' || r === 'accepting')
        if (up >= 0 && gen === this.generation) this.#serverUp(up)
        if (epoch === this.#probeEpoch) this.#scheduleProbe(epoch)
      })
    }, interval)
    this.#probeTimer.unref()
  }

  #serverUp(index: number): void {
    const now = Date.now()
    if (this.#upSince === undefined) {
      this.#upSince = now
      return
    }
    const waitedMs = now - this.#upSince
    if (waitedMs < 2 * this.#opts.probeIntervalMs) return
    const s = this.#servers[index] as ZkServerAddress
    this.#log.warn(
      { server: `${s.host}:${s.port}`, waitedMs },
      'a zookeeper server is up but the client has not reconnected; replacing the client',
    )
    this.#upSince = undefined
    this.#newClient('probe')
  }
}

/**
 * Trap (node-zookeeper-client 1.1.3): after a server restart its ConnectionManager can run two
 * reconnect loops at once; close() stops only one, and the other keeps dialling (and may even
 * re-establish the session) forever. A client we replace while it is not connected gets its
 * reconnect entry point disabled and its socket destroyed. The proxy keeps no ephemeral znodes, so
 * dropping a session this way loses nothing.
 */
function disarmReconnect(c: object): void {
  const cm = (c as { connectionManager?: unknown }).connectionManager
  if (typeof cm !== 'object' || cm === null) return
  const m = cm as { connect?: unknown; socket?: { destroy?: unknown } }
  if (typeof m.connect === 'function') m.connect = () => {}
  if (typeof m.socket?.destroy === 'function') (m.socket as { destroy: () => void }).destroy()
}

function isNodeExists(err: unknown): boolean {
  const { Exception } = zkLib()
  return err instanceof Exception && err.getCode() === Exception.NODE_EXISTS
}

function isNoNode(err: unknown): boolean {
  const { Exception } = zkLib()
  return err instanceof Exception && err.getCode() === Exception.NO_NODE
}

/** A ZkSession read failed because the node does not exist. */
export function isNoNodeError(err: unknown): boolean {
  return err instanceof ProxyError && isNoNode(err.cause)
}

/** Hands out one ZkSession per connect string (shared by routes); the last release closes it. */
export class ZkSessionRegistry {
  readonly #sessions = new Map<string, { session: ZkSession; refs: number }>()
  readonly #make: (connectString: string) => ZkSession

  constructor(make: (connectString: string) => ZkSession) {
    this.#make = make
  }

  acquire(connectString: string): ZkSession {
    let e = this.#sessions.get(connectString)
    if (e === undefined) {
      e = { session: this.#make(connectString), refs: 0 }
      this.#sessions.set(connectString, e)
    }
    e.refs++
    return e.session
  }

  release(session: ZkSession): void {
    const e = this.#sessions.get(session.connectString)
    if (e === undefined || e.session !== session) return
    if (--e.refs > 0) return
    this.#sessions.delete(session.connectString)
    session.close()
  }

  /** Connects every session handed out (construction has no side effects; this does). */
  startAll(): void {
    for (const e of this.#sessions.values()) e.session.start()
  }

  closeAll(): void {
    for (const e of this.#sessions.values()) e.session.close()
    this.#sessions.clear()
  }

  sessions(): ZkSession[] {
    return [...this.#sessions.values()].map((e) => e.session)
  }
}
