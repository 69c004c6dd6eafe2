/**
 * Node's libuv TCP handles, without net.Socket on top (the "handles" transport of HS2 routes).
 *
 * Why: a net.Socket is a full stream; creating, wiring and tearing down two of them costs a
 * Node proxy ~100 µs of CPU per connection, about what the client and the backend spend
 * together, and 8x haproxy's (docs/benchmarks.md). The handles underneath do the same
 * syscalls for a fraction of that.
 *
 * Contract and trap: these bindings (`process.binding('tcp_wrap' | 'stream_wrap')`) are Node's
 * own plumbing behind net.Socket. They are reachable without a warning in Node 22, 24 and 26, the
 * lines `npm test` runs on (DEP0111 is documentation-only; `--pending-deprecation` prints it once),
 * with the same shape on all three, but they are not a public API: a later Node may change or drop
 * them. So:
 * - they are loaded once and their shape checked here; anything missing makes the transport
 *   unavailable, and routes use net.Socket (`handlesUnavailable()` says why);
 * - every use of them lives in net/tcp-conn.ts, net/handle-listener.ts and net/handle-dial.ts.
 */

/** 'uv' errno, negative, or 0 */
type Status = number

export interface ConnectReq {
  oncomplete: (status: Status) => void
  address?: string
  port?: number
}

export interface WriteReq {
  oncomplete: (status: Status) => void
  handle?: TcpHandle
  /** keeps the bytes alive while libuv still points into them */
  buffer?: Uint8Array
  async?: boolean
}

export interface ShutdownReq {
  /** optional: without it Node does not call into JavaScript when the shutdown is done */
  oncomplete?: (status: Status) => void
  handle?: TcpHandle
}

export interface SockAddr {
  address?: string
  port?: number
  family?: string
}

/** The methods of a libuv TCP handle wrapper that the transport uses. */
export interface TcpHandle {
  /**
   * Called with the read's status in streamBaseState[kReadBytesOrError]; `ab` holds the bytes
   * (from `arrayBufferOffset`) unless a user buffer is set. With a user buffer, returning a
   * Uint8Array makes it the buffer of the next read.
   */
  onread: ((ab: ArrayBuffer | undefined) => Uint8Array | undefined) | null
  onconnection: ((status: Status, client: TcpHandle | undefined) => void) | null
  readStart(): Status
  readStop(): Status
  useUserBuffer(buf: Uint8Array): void
  setNoDelay(on: boolean): Status
  writeBuffer(req: WriteReq, buf: Uint8Array): Status
  shutdown(req: ShutdownReq): Status
  close(cb?: () => void): void
  connect(req: ConnectReq, address: string, port: number): Status
  connect6(req: ConnectReq, address: string, port: number): Status
  bind(address: string, port: number): Status
  bind6(address: string, port: number, flags: number): Status
  listen(backlog: number): Status
  getsockname(out: SockAddr): Status
  getpeername(out: SockAddr): Status
}

export interface HandleBindings {
  newSocket(): TcpHandle
  newServer(): TcpHandle
  newConnectReq(): ConnectReq
  newWriteReq(): WriteReq
  newShutdownReq(): ShutdownReq
  /** Int32Array shared with C++: the status of the current read / write */
  state: Int32Array
  kReadBytesOrError: number
  kArrayBufferOffset: number
  kLastWriteWasAsync: number
}

/** libuv's UV_EOF (the same on every platform libuv supports) */
export const UV_EOF = -4095

type Ctor<T> = new (arg?: number) => T

const METHODS = [
  'readStart',
  'readStop',
  'useUserBuffer',
  'setNoDelay',
  'writeBuffer',
  'shutdown',
  'close',
  'connect',
  'connect6',
  'bind',
  'bind6',
  'listen',
  'getsockname',
  'getpeername',
]

function load(): HandleBindings | string {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding
  if (typeof binding !== 'function') return 'process.binding is not available'
  let tcp: Record<string, unknown>
  let stream: Record<string, unknown>
  try {
    tcp = binding.call(process, 'tcp_wrap') as Record<string, unknown>
    stream = binding.call(process, 'stream_wrap') as Record<string, unknown>
  } catch (err) {
    // Node's permission model (--permission) refuses process.binding with ERR_ACCESS_DENIED
    const code = (err as { code?: unknown } | null)?.code
    const msg = err instanceof Error ? err.message : String(err)
    return `process.binding refused: ${typeof code === 'string' ? `${code} ` : ''}${msg}`
  }
  const TCP = tcp['TCP']
  const ConnectWrap = tcp['TCPConnectWrap']
  const constants = tcp['constants'] as Record<string, unknown> | undefined
  const WriteWrap = stream['WriteWrap']
  const ShutdownWrap = stream['ShutdownWrap']
  const state = stream['streamBaseState']
  const k = ['kReadBytesOrError', 'kArrayBufferOffset', 'kLastWriteWasAsync'].map((n) => stream[n])
  if (
    typeof TCP !== 'function' ||
    typeof ConnectWrap !== 'function' ||
    typeof WriteWrap !== 'function' ||
    typeof ShutdownWrap !== 'function'
  ) {
    return 'tcp_wrap / stream_wrap lack their constructors'
  }
  if (
    !(state instanceof Int32Array) ||
    !k.every((x) => typeof x === 'number') ||
    typeof constants?.['SOCKET'] !== 'number' ||
    typeof constants['SERVER'] !== 'number'
  ) {
    return 'stream_wrap lacks streamBaseState or its indexes'
  }
  const proto = (TCP as { prototype: Record<string, unknown> }).prototype
  const missing = METHODS.filter((m) => typeof proto[m] !== 'function')
  if (missing.length > 0) return `TCP handles lack ${missing.join(', ')}`
  const Tcp = TCP as Ctor<TcpHandle>
  const socketType = constants['SOCKET']
  const serverType = constants['SERVER']
  return {
    newSocket: () => new Tcp(socketType),
    newServer: () => new Tcp(serverType),
    newConnectReq: () => new (ConnectWrap as Ctor<ConnectReq>)(),
    newWriteReq: () => new (WriteWrap as Ctor<WriteReq>)(),
    newShutdownReq: () => new (ShutdownWrap as Ctor<ShutdownReq>)(),
    state,
    kReadBytesOrError: k[0] as number,
    kArrayBufferOffset: k[1] as number,
    kLastWriteWasAsync: k[2] as number,
  }
}

let loaded: HandleBindings | string | undefined

/** The bindings, or undefined when this Node does not offer them (then see handlesUnavailable). */
export function handleBindings(): HandleBindings | undefined {
  loaded ??= load()
  return typeof loaded === 'string' ? undefined : loaded
}

/**
 * What an operator can do about a reason from handlesUnavailable (pure; the route logs it when
 * `auto` falls back to net.Socket).
 */
export function handlesFix(reason: string): string {
  if (reason.includes('ERR_ACCESS_DENIED'))
    return "Node's permission model (--permission) refuses process.binding: set tcpIo: sockets to choose net.Socket explicitly"
  return 'this Node changed its internals: set tcpIo: sockets to choose net.Socket explicitly, or run a Node line the tests run on (22, 24, 26)'
}

/** Why the handles transport cannot be used here; undefined when it can. */
export function handlesUnavailable(): string | undefined {
  loaded ??= load()
  return typeof loaded === 'string' ? loaded : undefined
}
