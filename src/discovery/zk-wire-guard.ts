/**
 * A guard around node-zookeeper-client's reply parser (1.1.3, lib/ConnectionManager.js).
 *
 * The trap: the manager keeps a partly received frame in `pendingBuffer` and never clears it when
 * its socket closes. After a ZooKeeper restart in the middle of a frame, the next connection's
 * ConnectResponse is read behind those stale bytes, the framing is lost, and the parser throws
 * (`Unknown code: -1997144063`, a RangeError, ...) from the socket's `data` handler: an uncaught
 * exception that would end the proxy. Upstream: alexguan/node-zookeeper-client#23, #70.
 *
 * The guard, per client instance (the manager binds its handlers at each `connect`, so instance
 * methods set before `client.connect()` are the ones the socket calls):
 * - a fresh connection starts with no stale bytes;
 * - a parser exception drops the buffered bytes and the socket; the library then reconnects and
 *   resumes the session as it does after any connection loss, and `onFault` is told.
 *
 * It touches private fields, so it checks their shape first and reports `false` (leaving the client
 * as it is) when the library no longer looks like 1.1.x; a unit test holds the installed version to it.
 */

interface ManagerInternals {
  pendingBuffer: Buffer | null
  socket?: { destroy(): void } | undefined
  onSocketConnected: (...args: unknown[]) => unknown
  onSocketData: (buffer: Buffer) => unknown
}

function internalsOf(client: object): ManagerInternals | undefined {
  const manager: unknown = Reflect.get(client, 'connectionManager')
  if (typeof manager !== 'object' || manager === null) return undefined
  if (!('pendingBuffer' in manager)) return undefined
  const connected: unknown = Reflect.get(manager, 'onSocketConnected')
  const data: unknown = Reflect.get(manager, 'onSocketData')
  if (typeof connected !== 'function' || typeof data !== 'function') return undefined
  return manager as ManagerInternals
}

/** Installs the guard on a client not yet connected; false when the client's shape is unknown. */
export function guardZkWire(client: object, onFault: (err: Error) => void): boolean {
  const manager = internalsOf(client)
  if (manager === undefined) return false
  const connected = manager.onSocketConnected
  const data = manager.onSocketData
  manager.onSocketConnected = function (this: ManagerInternals, ...args: unknown[]) {
    this.pendingBuffer = null
    return connected.apply(this, args)
  }
  manager.onSocketData = function (this: ManagerInternals, buffer: Buffer) {
    try {
      return data.call(this, buffer)
    } catch (err) {
      this.pendingBuffer = null
      this.socket?.destroy()
      onFault(
        new Error(
          'a reply could not be parsed; connection dropped, the session resumes on the next one',
          {
            cause: err,
          },
        ),
      )
      return undefined
    }
  }
  return true
}
