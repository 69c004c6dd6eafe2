import type net from 'node:net'

/**
 * Where backend reads land (measured in docs/benchmarks.md):
 * - Between bursts every pipe reads into ONE buffer shared by all pipes, so an idle connection
 *   holds no read buffer at all. Bytes read there are copied out at once, inside the read
 *   callback (no other read can run before it returns), so a client write that the kernel does
 *   not take at once never points into the shared buffer.
 * - A read that fills the shared buffer, or brings more than a small message, moves the pipe to
 *   a large buffer of its own, taken from a pool of hot, reused ones: from then on bytes go to the
 *   client straight from it, without a copy, and large reads mean few syscalls and wake-ups per MiB.
 * - A read that does not fill the large buffer (the kernel's queue is drained) and whose bytes
 *   the kernel took at once hands it back to the pool.
 * Node calls `onread.buffer` (a function) after every read and reads next into what it returns.
 */
export const PIPE_SHARED_READ_BYTES = 64 * 1024
export const PIPE_LARGE_READ_BYTES = 256 * 1024
/** the largest read buffer a pipe uses */
export const PIPE_READ_BUFFER_BYTES = PIPE_LARGE_READ_BYTES
/** reads smaller than this are copied into a buffer of their own (from Node's buffer pool) */
const COPY_BELOW = 4096
const POOL_MAX = 8

const shared = Buffer.allocUnsafeSlow(PIPE_SHARED_READ_BYTES)
const pool: Buffer[] = []
const takeLarge = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(PIPE_LARGE_READ_BYTES)
const giveLarge = (b: Buffer): void => {
  if (pool.length < POOL_MAX) pool.push(b)
}

export interface PipeResult {
  bytesFromClient: number
  bytesToClient: number
  /** why it ended: 'closed' (both sides finished), 'idle-timeout', 'client-error', 'backend-error' */
  reason: string
  error: Error | undefined
}

/**
 * A bidirectional byte pipe between an accepted client socket and a backend socket.
 *
 * Contract:
 * - create the Pipe first and pass `pipe.onread` to the backend's `net.connect` (Node only offers
 *   `onread` at connect time); then call `attach(backend)` once, after the connect succeeded.
 * - the client socket must be paused (server `pauseOnConnect`) until `attach`; bytes it sent while
 *   the backend was being chosen stay in the kernel and are forwarded after attach, never lost.
 * - half-close: one side's EOF ends the other side's write half; the pipe finishes when both
 *   sockets are closed. An error on either side destroys both.
 * - backpressure both ways: client reads pause while the backend's write buffer is full; backend
 *   reads stop (onread returns false) while bytes handed to the client are not flushed.
 * - `onDone` is called exactly once.
 */
export class Pipe {
  readonly onread: net.OnReadOpts
  bytesFromClient = 0
  bytesToClient = 0
  readonly #client: net.Socket
  #backend: net.Socket | undefined
  /** the next backend read lands in `shared`, or in this large buffer of the pipe's own */
  #own: Buffer | undefined
  /** backend reads stopped until the client's write buffer is flushed */
  #paused = false
  #reason = 'closed'
  #error: Error | undefined
  #closed = 0
  #done = false
  readonly #onDone: (r: PipeResult) => void
  /** one function for every client write: Node then batches the callbacks of synchronous writes */
  readonly #flushed = (): void => {
    if (this.#paused && this.#client.writableLength === 0) {
      this.#paused = false
      this.#backend?.resume()
    }
  }

  constructor(client: net.Socket, opts: { idleTimeoutMs: number; onDone: (r: PipeResult) => void }) {
    this.#client = client
    this.#onDone = opts.onDone
    this.onread = {
      buffer: () => this.#own ?? shared,
      callback: (n: number, buf: Uint8Array) => this.#fromBackend(n, buf as Buffer),
    }
    if (opts.idleTimeoutMs > 0) {
      // the client socket sees every byte of both directions, so its timer covers the whole pipe
      client.setTimeout(opts.idleTimeoutMs, () => this.#fail('idle-timeout', undefined))
    }
  }

  attach(backend: net.Socket): void {
    this.#backend = backend
    const client = this.#client
    if (client.destroyed) {
      // The client went away while its backend was being chosen; its 'close' may have been
      // emitted already, so the backend's close alone finishes the pipe.
      backend.on('error', () => {})
      backend.on('close', () => this.#finish())
      this.#fail('client-error', undefined)
      return
    }
    const hwm = backend.writableHighWaterMark
    client.on('data', (chunk: Buffer) => {
      this.bytesFromClient += chunk.length
      backend.write(chunk)
      // pause only while bytes wait in the backend's buffer (write() says false for any chunk
      // larger than the high-water mark, even when the kernel took it at once)
      if (backend.writableLength >= hwm) client.pause()
    })
    backend.on('drain', () => client.resume())
    client.on('end', () => backend.end())
    backend.on('end', () => client.end())
    client.on('error', (err) => this.#fail('client-error', err))
    backend.on('error', (err) => this.#fail('backend-error', err))
    client.on('close', () => this.#onClose())
    backend.on('close', () => this.#onClose())
    client.resume()
  }

  /** Ends both sides now (shutdown past the grace period, or a forced close). */
  destroy(reason: string): void {
    this.#fail(reason, undefined)
  }

  #fromBackend(n: number, buf: Buffer): boolean {
    this.bytesToClient += n
    const client = this.#client
    let out: Buffer
    if (buf === shared) {
      // copy out now: the next read of any pipe overwrites the shared buffer
      if (n < COPY_BELOW) {
        out = Buffer.allocUnsafe(n)
        buf.copy(out, 0, 0, n)
      } else {
        const own = takeLarge()
        buf.copy(own, 0, 0, n)
        this.#own = own
        out = own.subarray(0, n)
      }
    } else {
      out = n === buf.length ? buf : buf.subarray(0, n)
    }
    client.write(out, this.#flushed)
    if (client.writableLength !== 0) {
      // Still referenced by a pending write: stop reading until it is flushed (the next read
      // reuses the same buffer, free again by then).
      this.#paused = true
      return false
    }
    // The kernel took everything at once; a large buffer that was not filled goes back.
    if (buf !== shared && n < buf.length) {
      giveLarge(buf)
      this.#own = undefined
    }
    return true
  }

  #fail(reason: string, err: Error | undefined): void {
    if (this.#reason === 'closed') {
      this.#reason = reason
      this.#error = err
    }
    this.#client.destroy()
    this.#backend?.destroy()
    if (this.#backend === undefined) this.#finish()
  }

  #onClose(): void {
    if (++this.#closed < 2) return
    this.#finish()
  }

  #finish(): void {
    if (this.#done) return
    this.#done = true
    // Both sockets are closed: no read can land in the buffer and no write references it any more.
    if (this.#own !== undefined) {
      giveLarge(this.#own)
      this.#own = undefined
    }
    this.#onDone({ bytesFromClient: this.bytesFromClient, bytesToClient: this.bytesToClient, reason: this.#reason, error: this.#error })
  }
}
