import type net from 'node:net'

/** Bytes read from the backend are read into one reused buffer per connection (perf-baseline.md §3). */
export const PIPE_READ_BUFFER_BYTES = 16 * 1024

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
  readonly #buf: Buffer
  #readGen = 0
  #pausedGen = -1
  #reason = 'closed'
  #error: Error | undefined
  #closed = 0
  #done = false
  readonly #onDone: (r: PipeResult) => void

  constructor(client: net.Socket, opts: { idleTimeoutMs: number; onDone: (r: PipeResult) => void }) {
    this.#client = client
    this.#onDone = opts.onDone
    this.#buf = Buffer.allocUnsafeSlow(PIPE_READ_BUFFER_BYTES)
    this.onread = { buffer: this.#buf, callback: (n) => this.#fromBackend(n) }
    if (opts.idleTimeoutMs > 0) {
      // the client socket sees every byte of both directions, so its timer covers the whole pipe
      client.setTimeout(opts.idleTimeoutMs, () => this.#fail('idle-timeout', undefined))
    }
  }

  attach(backend: net.Socket): void {
    this.#backend = backend
    const client = this.#client
    client.on('data', (chunk: Buffer) => {
      this.bytesFromClient += chunk.length
      if (!backend.write(chunk)) client.pause()
    })
    backend.on('drain', () => client.resume())
    client.on('end', () => backend.end())
    backend.on('end', () => client.end())
    client.on('error', (err) => this.#fail('client-error', err))
    backend.on('error', (err) => this.#fail('backend-error', err))
    client.on('close', () => this.#onClose())
    backend.on('close', () => this.#onClose())
    if (client.destroyed) this.#fail('client-error', undefined)
    else client.resume()
  }

  /** Ends both sides now (shutdown past the grace period, or a forced close). */
  destroy(reason: string): void {
    this.#fail(reason, undefined)
  }

  #fromBackend(n: number): boolean {
    this.bytesToClient += n
    const gen = ++this.#readGen
    this.#client.write(this.#buf.subarray(0, n), () => {
      if (this.#pausedGen === gen) {
        this.#pausedGen = -1
        this.#backend?.resume()
      }
    })
    // The kernel took everything synchronously: the buffer may be reused for the next read.
    if (this.#client.writableLength === 0) return true
    // Still referenced by a pending write: stop reading until that write is flushed.
    this.#pausedGen = gen
    return false
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
    this.#onDone({ bytesFromClient: this.bytesFromClient, bytesToClient: this.bytesToClient, reason: this.#reason, error: this.#error })
  }
}
