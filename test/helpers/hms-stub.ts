/**
 * A Hive Metastore stub speaking the small test IDL (hms-idl.ts) over plain TCP, loopback only.
 *
 * Like a real HMS with `TUGIBasedProcessor` (hive-ha-semantics.md §5.1), each connection has its own
 * state: `set_ugi` stores the user (and answers groups + user, like HMSHandler), `setMetaConf`
 * stores per-connection overrides that `getMetaConf` reads back. So that a test can see which
 * backend answered and whether a proxy replayed that state on a new backend connection,
 * `get_database` answers with `description` = the stub's id and `parameters` = the database's own
 * parameters + `ugi` (the connection's user, when set) + every per-connection conf override.
 *
 * `create_database` adds to a store (AlreadyExistsException on a duplicate, so a double send is
 * detectable); pass one `store` to several stubs to model metastores sharing one RDBMS. A created
 * database gets the parameter `created_by` = the id of the stub that executed the create.
 * `get_partitions` answers `max_parts` partitions (100 when negative): large answers on demand.
 * `shutdown` (fb303, oneway) is recorded and never answered, whatever message type it came with;
 * it does not clear the connection's state. Methods outside the IDL get TApplicationException
 * UNKNOWN_METHOD, as from a real server.
 *
 * The server parses messages itself from the accumulated bytes of each connection (test-env.md §4),
 * strict binary like HMS (a non-versioned or SASL stream is a protocol error: the connection is
 * closed and the reason kept in `protocolErrors`), 100 MiB message limit.
 */
import net from 'node:net'
import tls from 'node:tls'
import {
  type Database,
  type HmsHandler,
  type HmsMessage,
  type Partition,
  type ProtocolName,
  MessageType,
  decodeMessage,
  dispatch,
  protocolClass,
  thriftError,
  transportClass,
} from './hms-idl.js'

/**
 * How the stub misbehaves on a call:
 * - 'close': run the call (side effects happen, e.g. create_database stores the database), then
 *   destroy the connection without replying — "the request reached the backend, the answer was lost";
 * - 'half' : run the call, write the first half of the reply bytes (at least 1), then destroy;
 * - 'drop' : destroy the connection as soon as the call is read, without running it.
 */
export type FailureMode = 'close' | 'half' | 'drop'

export interface HmsCall {
  /** connection number on this stub, from 1 */
  conn: number
  seqid: number
  /** MessageType of the envelope (CALL 1, ONEWAY 4) */
  type: number
  method: string
  /** decoded args (undefined for methods outside the IDL) */
  args: Record<string, unknown> | undefined
  /** the user from set_ugi on that connection before this call, if any */
  ugi: string | undefined
  /** the connection's setMetaConf overrides before this call */
  conf: Record<string, string>
  /** set when failNext() applied to this call */
  failed?: FailureMode
}

/** Databases by name, shareable between stubs. */
export type HmsStore = Map<string, Database>

export function createHmsStore(names: string[] = ['default']): HmsStore {
  const store: HmsStore = new Map()
  for (const name of names) addDatabase(store, name)
  return store
}

function addDatabase(store: HmsStore, name: string): void {
  if (!store.has(name))
    store.set(name, {
      name,
      description: '',
      locationUri: `file:/warehouse/${name}.db`,
      parameters: {},
    })
}

export interface HmsStub {
  id: string
  host: string
  port: number
  protocol: ProtocolName
  framed: boolean
  /** every call received, in order (all connections; `conn` tells them apart) */
  calls: HmsCall[]
  /** TCP connections accepted so far */
  connections: number
  /** TCP connections currently open */
  readonly activeConnections: number
  /** why connections were closed for bad input (e.g. a SASL or non-strict stream) */
  protocolErrors: string[]
  store: HmsStore
  /** what fb303 getStatus answers (2 = ALIVE, the default; 4 = STOPPED) */
  fbStatus: number
  /** make the server misbehave on the next call of `method` ('*' = whatever comes next); queued per method */
  failNext(method: string, how: FailureMode): void
  /** calls of one method */
  callsOf(method: string): HmsCall[]
  /** stops listening and destroys live sockets; idempotent */
  close(): Promise<void>
}

export interface StartHmsStubOptions {
  id: string
  protocol?: ProtocolName
  framed?: boolean
  /** a fixed port (to restart a stub on the same port); default 0 = any free port */
  port?: number
  /** databases to create in the store (default ['default'] when no store is given) */
  databases?: string[]
  /** a store shared with other stubs */
  store?: HmsStore
  /** serve TLS with this certificate */
  tls?: { cert: string; key: string }
}

const MAX_MESSAGE = 100 * 1024 * 1024
const DEFAULT_PARTS = 100

export function makePartitions(db: string, tbl: string, n: number, backend: string): Partition[] {
  const out: Partition[] = []
  for (let i = 0; i < n; i++) {
    out.push({
      values: ['2024-01-01', String(i)],
      dbName: db,
      tableName: tbl,
      createTime: 1_700_000_000 + i,
      lastAccessTime: 0,
      sd: {
        cols: [
          { name: 'id', type: 'bigint', comment: 'row id' },
          { name: 'payload', type: 'string', comment: '' },
        ],
        location: `file:/warehouse/${db}.db/${tbl}/ds=2024-01-01/part=${i}`,
        compressed: false,
        numBuckets: -1,
        parameters: {},
      },
      parameters: { transient_lastDdlTime: String(1_700_000_000 + i), backend },
    })
  }
  return out
}

interface ConnState {
  conn: number
  ugi: string | undefined
  conf: Map<string, string>
}

export async function startHmsStub(opts: StartHmsStubOptions): Promise<HmsStub> {
  const id = opts.id
  const host = '127.0.0.1'
  const protocol = opts.protocol ?? 'binary'
  const framed = opts.framed ?? false
  const Proto = protocolClass(protocol)
  const Transport = transportClass(framed)
  const store = opts.store ?? createHmsStore([])
  for (const name of opts.databases ?? (opts.store ? [] : ['default'])) addDatabase(store, name)

  const sockets = new Set<net.Socket>()
  const failures = new Map<string, FailureMode[]>()
  const calls: HmsCall[] = []
  const protocolErrors: string[] = []
  let connections = 0

  const takeFailure = (method: string): FailureMode | undefined => {
    for (const key of [method, '*']) {
      const q = failures.get(key)
      if (q?.length) return q.shift()
    }
    return undefined
  }

  const handlerFor = (state: ConnState): HmsHandler => ({
    set_ugi(args, reply) {
      state.ugi = args.user_name ?? ''
      reply(null, [...(args.group_names ?? []), state.ugi])
    },
    setMetaConf(args, reply) {
      state.conf.set(args.key ?? '', args.value ?? '')
      reply(null)
    },
    getMetaConf(args, reply) {
      reply(null, state.conf.get(args.key ?? '') ?? '')
    },
    get_database(args, reply) {
      const db = store.get(args.name ?? '')
      if (!db) return reply(thriftError('NoSuchObjectException', `Database ${args.name} not found`))
      const parameters: Record<string, string> = { ...db.parameters }
      if (state.ugi !== undefined) parameters.ugi = state.ugi
      for (const [k, v] of state.conf) parameters[k] = v
      reply(null, { ...db, description: id, parameters })
    },
    get_all_databases(_args, reply) {
      reply(null, [...store.keys()].sort())
    },
    create_database(args, reply) {
      const db = args.database ?? {}
      if (!db.name) return reply(thriftError('MetaException', 'Database name is missing'))
      if (store.has(db.name))
        return reply(thriftError('AlreadyExistsException', `Database ${db.name} already exists`))
      store.set(db.name, {
        name: db.name,
        description: db.description ?? '',
        locationUri: db.locationUri ?? `file:/warehouse/${db.name}.db`,
        parameters: { ...db.parameters, created_by: id },
      })
      reply(null)
    },
    get_partitions(args, reply) {
      if (!store.has(args.db_name ?? ''))
        return reply(thriftError('NoSuchObjectException', `Database ${args.db_name} not found`))
      const n =
        typeof args.max_parts === 'number' && args.max_parts >= 0 ? args.max_parts : DEFAULT_PARTS
      reply(null, makePartitions(args.db_name, args.tbl_name ?? '', n, id))
    },
    shutdown() {
      // fb303 oneway: no reply; HMSHandler only drops the connection's raw store here
    },
    getStatus(_args, reply) {
      // fb303, as HMSHandler (FacebookBase) answers it: from memory
      reply(null, stub.fbStatus)
    },
  })

  const onConnection = (sock: net.Socket): void => {
    const state: ConnState = { conn: ++connections, ugi: undefined, conf: new Map() }
    const handler = handlerFor(state)
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    sock.setNoDelay(true)
    let buf: Buffer = Buffer.alloc(0)
    let dead = false
    const kill = (): void => {
      dead = true
      sock.destroy()
    }

    /** one whole message from the head of `buf`, or null */
    const next = (): { message: HmsMessage; end: number } | null => {
      if (!framed) {
        if (buf.length > MAX_MESSAGE) throw new Error(`message larger than ${MAX_MESSAGE} bytes`)
        return decodeMessage(buf, protocol, 0, true)
      }
      if (buf.length < 4) return null
      const len = buf.readInt32BE(0)
      if (len < 0 || len > MAX_MESSAGE) throw new Error(`bad frame length ${len}`)
      if (buf.length < 4 + len) return null
      const r = decodeMessage(buf.subarray(4, 4 + len), protocol, 0, true)
      if (!r) throw new Error(`frame of ${len} bytes holds a truncated message`)
      return { message: r.message, end: 4 + len }
    }

    const handle = (msg: HmsMessage): void => {
      if (msg.type !== MessageType.CALL && msg.type !== MessageType.ONEWAY) {
        protocolErrors.push(`conn ${state.conn}: unexpected message type ${msg.type} (${msg.name})`)
        return kill()
      }
      const how = takeFailure(msg.name)
      const call: HmsCall = {
        conn: state.conn,
        seqid: msg.seqid,
        type: msg.type,
        method: msg.name,
        args: msg.args,
        ugi: state.ugi,
        conf: Object.fromEntries(state.conf),
      }
      if (how) call.failed = how
      calls.push(call)
      if (how === 'drop') return kill()

      const parts: Buffer[] = []
      dispatch(handler, msg, new Proto(new Transport(undefined, (b) => parts.push(b)))) // handlers reply synchronously
      const reply = Buffer.concat(parts)

      if (how === 'close' || (how === 'half' && reply.length === 0)) return kill()
      if (how === 'half') {
        dead = true
        sock.write(reply.subarray(0, Math.max(1, Math.floor(reply.length / 2))), () =>
          sock.destroy(),
        )
        return
      }
      if (reply.length > 0) sock.write(reply)
    }

    sock.on('data', (chunk: Buffer) => {
      if (dead) return
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      while (!dead) {
        let r: { message: HmsMessage; end: number } | null
        try {
          r = next()
        } catch (e) {
          protocolErrors.push(`conn ${state.conn}: ${(e as Error).message}`)
          return kill()
        }
        if (!r) return
        buf = buf.subarray(r.end)
        handle(r.message)
      }
    })
  }

  const server: net.Server =
    opts.tls === undefined
      ? net.createServer(onConnection)
      : tls.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onConnection)
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port

  let closing: Promise<void> | undefined
  const stub: HmsStub = {
    id,
    host,
    port,
    protocol,
    framed,
    calls,
    get connections() {
      return connections
    },
    get activeConnections() {
      return sockets.size
    },
    protocolErrors,
    store,
    fbStatus: 2,
    failNext(method, how) {
      const q = failures.get(method) ?? []
      q.push(how)
      failures.set(method, q)
    },
    callsOf(method) {
      return calls.filter((c) => c.method === method)
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      return closing
    },
  }
  return stub
}
