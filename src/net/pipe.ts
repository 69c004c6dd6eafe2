import type net from 'node:net'

import { LARGE_READ_BYTES, ReadBuffer, UNREFERENCED, type LargeBuffers } from './read-buffer.js'

/** the largest read buffer a pipe uses by default (read-buffer.ts explains the policy) */
export const PIPE_LARGE_READ_BYTES = LARGE_READ_BYTES

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
  /** where backend reads land: the process-wide shared buffer, or a pooled one of its own */
  readonly #rb: ReadBuffer
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

  /** `largeBuffers`: where busy backend reads land (default: heap buffers of PIPE_LARGE_READ_BYTES) */
  constructor(
    client: net.Socket,
    opts: { idleTimeoutMs: number; onDone: (r: PipeResult) => void; largeBuffers?: LargeBuffers },
  ) {
    this.#client = client
    this.#rb = new ReadBuffer(opts.largeBuffers)
    this.#onDone = opts.onDone
    this.onread = {
      buffer: this.#rb.next,
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
    client.on('end', () => finishWrites(backend))
    backend.on('end', () => finishWrites(client))
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
    const out = this.#rb.take(n, buf)
    client.write(out, this.#flushed)
    const pending = client.writableLength !== 0
    this.#rb.settle(n, buf, pending)
    if (!pending) return true
    // Still referenced by a pending write: stop reading until it is flushed.
    this.#paused = true
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
    // Both sockets are closed: no read can land in the buffer and no write references it any more.
    this.#rb.release(UNREFERENCED)
    this.#onDone({
      bytesFromClient: this.bytesFromClient,
      bytesToClient: this.bytesToClient,
      reason: this.#reason,
      error: this.#error,
    })
  }
}

/**
 * Forward an EOF to `to`: end its write half, or, when `to` has already sent its own EOF and
 * nothing waits in its write buffer, close it outright. On the wire both send the same FIN
 * (the kernel still delivers what it holds); closing saves a shutdown(2) and a round of stream
 * events on every connection.
 */
function finishWrites(to: net.Socket): void {
  if (to.readableEnded && to.writableLength === 0) to.destroy()
  else to.end()
}
