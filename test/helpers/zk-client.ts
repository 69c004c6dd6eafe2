/**
 * A tiny promisified node-zookeeper-client wrapper for tests. It plays the *writer* role
 * (HiveServer2 registering itself): the ephemeral znodes it creates belong to its session, so a
 * test "kills" an instance's registration by closing this TestZk (or removing one znode).
 *
 * Every operation is bounded (gotcha Z2: node-zookeeper-client queues ops forever while the server
 * is unreachable) and errors are normalised to real Errors carrying the ZooKeeper `code`
 * (gotcha Z1: the library's Exception is not typed as an Error).
 */
import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import zookeeper from 'node-zookeeper-client'

export type TestCreateMode =
  | 'ephemeral-sequential'
  | 'ephemeral'
  | 'persistent'
  | 'persistent-sequential'

export interface TestZk {
  client: zookeeper.Client
  /** create the path and all missing parents (persistent); ok if it exists */
  mkdirp(path: string): Promise<void>
  /** returns the created path (with the sequence suffix for sequential modes) */
  create(path: string, data: string | Buffer, mode: TestCreateMode): Promise<string>
  setData(path: string, data: string | Buffer): Promise<void>
  getData(path: string): Promise<Buffer>
  exists(path: string): Promise<boolean>
  remove(path: string): Promise<void>
  getChildren(path: string): Promise<string[]>
  /** session id as hex (changes only when a new session is created) */
  sessionId(): string
  /** ends the session (the server deletes its ephemerals before the call resolves); idempotent */
  close(): Promise<void>
}

export interface ConnectTestZkOptions {
  /** requested session timeout in ms (default 4000; the server clamps it, gotcha Z6) */
  sessionTimeout?: number
  /** bound for the initial connect (default 10000 ms) */
  connectTimeoutMs?: number
  /** bound for each operation (default 10000 ms) */
  opTimeoutMs?: number
}

/** ZooKeeper error codes as used by node-zookeeper-client (Exception.NO_NODE etc.) */
export const ZkCode = {
  CONNECTION_LOSS: zookeeper.Exception.CONNECTION_LOSS,
  NO_NODE: zookeeper.Exception.NO_NODE,
  NODE_EXISTS: zookeeper.Exception.NODE_EXISTS,
  NOT_EMPTY: zookeeper.Exception.NOT_EMPTY,
  SESSION_EXPIRED: zookeeper.Exception.SESSION_EXPIRED,
  NO_AUTH: zookeeper.Exception.NO_AUTH,
} as const

export class TestZkError extends Error {
  /** ZooKeeper error code (negative number), or undefined for timeouts/other failures */
  readonly code: number | undefined
  constructor(message: string, code: number | undefined, cause?: unknown) {
    super(message, { cause })
    this.name = 'TestZkError'
    this.code = code
  }
}

/** The library's error type (gotcha Z1): an Exception with getCode(), or a plain Error. */
type ZkErr = Error | zookeeper.Exception | null

/** ZooKeeper error code of any error thrown by TestZk or node-zookeeper-client, else undefined. */
export function zkErrorCode(err: unknown): number | undefined {
  if (err instanceof TestZkError) return err.code
  if (err instanceof zookeeper.Exception) return err.getCode()
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    typeof (err as { code: unknown }).code === 'number'
  ) {
    return (err as { code: number }).code
  }
  return undefined
}

/** node-zookeeper-client internals used only to make close() bounded and observable */
interface ConnectionManagerInternals extends EventEmitter {
  state: number
  socket?: Socket
}
const CM_CLOSED = -2
const CM_SESSION_EXPIRED = -3

const MODES: Record<TestCreateMode, number> = {
  'ephemeral-sequential': zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  persistent: zookeeper.CreateMode.PERSISTENT,
  'persistent-sequential': zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
}

const toBuf = (d: string | Buffer): Buffer => (typeof d === 'string' ? Buffer.from(d, 'utf8') : d)

export async function connectTestZk(
  connectString: string,
  opts: ConnectTestZkOptions = {},
): Promise<TestZk> {
  const sessionTimeout = opts.sessionTimeout ?? 4000
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
  const opTimeoutMs = opts.opTimeoutMs ?? 10_000
  const client = zookeeper.createClient(connectString, {
    sessionTimeout,
    spinDelay: 100,
    retries: 0,
  })
  const cm = (client as unknown as { connectionManager: ConnectionManagerInternals })
    .connectionManager
  let closing: Promise<void> | undefined

  const close = (): Promise<void> => {
    if (closing !== undefined) return closing
    closing = new Promise<void>((resolve) => {
      if (cm.state === CM_CLOSED || cm.state === CM_SESSION_EXPIRED) {
        // nothing to end (expired sessions are already gone on the server); drop any socket left
        cm.socket?.destroy()
        resolve()
        return
      }
      const onState = (s: number): void => {
        if (s === CM_CLOSED) finish()
      }
      const finish = (): void => {
        clearTimeout(timer)
        cm.removeListener('state', onState)
        resolve()
      }
      // the server unreachable (or hung): give up on a clean close and drop the socket
      const timer = setTimeout(() => {
        cm.socket?.destroy()
        finish()
      }, 5000)
      cm.on('state', onState)
      client.close()
    })
    return closing
  }

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('connected', onConnected)
      void close().then(() =>
        reject(
          new TestZkError(
            `could not connect to ZooKeeper at ${connectString} within ${connectTimeoutMs} ms`,
            undefined,
          ),
        ),
      )
    }, connectTimeoutMs)
    const onConnected = (): void => {
      clearTimeout(timer)
      resolve()
    }
    client.once('connected', onConnected)
    client.connect()
  })

  /** Run one callback-style op, bounded by opTimeoutMs, with errors turned into TestZkError. */
  const op = <T>(
    what: string,
    path: string,
    run: (cb: (err: ZkErr, value?: T) => void) => void,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => {
        done = true
        reject(
          new TestZkError(`ZooKeeper ${what} ${path} timed out after ${opTimeoutMs} ms`, undefined),
        )
      }, opTimeoutMs)
      run((err, value) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (err) {
          const code = zkErrorCode(err)
          reject(new TestZkError(`ZooKeeper ${what} ${path} failed: ${err.toString()}`, code, err))
        } else resolve(value as T)
      })
    })

  return {
    client,
    mkdirp: (path) => op<void>('mkdirp', path, (cb) => client.mkdirp(path, (err) => cb(err))),
    create: (path, data, mode) =>
      op<string>('create', path, (cb) =>
        client.create(path, toBuf(data), MODES[mode], (err, p) => cb(err, p)),
      ),
    setData: (path, data) =>
      op<void>('setData', path, (cb) => client.setData(path, toBuf(data), (err) => cb(err))),
    getData: (path) =>
      op<Buffer>('getData', path, (cb) =>
        client.getData(path, (err, data) => cb(err, data ?? Buffer.alloc(0))),
      ),
    exists: (path) =>
      op<boolean>('exists', path, (cb) => client.exists(path, (err, stat) => cb(err, !!stat))),
    remove: (path) => op<void>('remove', path, (cb) => client.remove(path, -1, (err) => cb(err))),
    getChildren: (path) =>
      op<string[]>('getChildren', path, (cb) =>
        client.getChildren(path, (err, children) => cb(err, children)),
      ),
    sessionId: () => client.getSessionId().toString('hex'),
    close,
  }
}
