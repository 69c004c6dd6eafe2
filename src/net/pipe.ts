import type net from 'node:net'

import { FirstAnswerState, type FirstAnswerOptions } from './first-answer.js'
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
 * - with `firstAnswer` (net/first-answer.ts): until the backend's first byte, client bytes are also
 *   kept; on a stall the backend is let go and `attach` may be called again with another one (the
 *   kept bytes are written to it first). After the first byte the hot path costs one flag test.
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
  /** set while waiting for the backend's first byte with first-answer failover on */
  #fa: FirstAnswerState | undefined
  /** the client listeners are set once, by the first `attach` */
  #wired = false
  #clientEnded = false
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
    opts: {
      idleTimeoutMs: number
      onDone: (r: PipeResult) => void
      largeBuffers?: LargeBuffers
      firstAnswer?: FirstAnswerOptions
    },
  ) {
    this.#client = client
    if (opts.firstAnswer !== undefined && opts.firstAnswer.timeoutMs > 0)
      this.#fa = new FirstAnswerState(opts.firstAnswer, () => this.#stalled())
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
      this.#fa?.done()
      backend.on('error', () => {})
      backend.on('close', () => this.#finish())
      this.#fail('client-error', undefined)
      return
    }
    backend.on('drain', () => client.resume())
    backend.on('end', () => finishWrites(client))
    backend.on('error', (err) => this.#fail('backend-error', err))
    backend.on('close', () => this.#onClose())
    const fa = this.#fa
    if (fa?.kept !== undefined && fa.kept.length > 0) {
      // a replay after a stall: the handshake so far, then the client's next bytes
      for (const chunk of fa.kept) backend.write(chunk)
      fa.arm()
    }
    if (this.#clientEnded) finishWrites(backend)
    if (!this.#wired) this.#wireClient(client)
    client.resume()
  }

  /** The client's listeners, once for the pipe's life; they write to whichever backend is attached. */
  #wireClient(client: net.Socket): void {
    this.#wired = true
    client.on('data', (chunk: Buffer) => {
      this.bytesFromClient += chunk.length
      if (this.#fa !== undefined && !this.#fa.keep(chunk)) this.#answered(false)
      const backend = this.#backend
      if (backend === undefined) return // between a stall and the next attach: kept above
      backend.write(chunk)
      // pause only while bytes wait in the backend's buffer (write() says false for any chunk
      // larger than the high-water mark, even when the kernel took it at once)
      if (backend.writableLength >= backend.writableHighWaterMark) client.pause()
    })
    client.on('end', () => {
      this.#clientEnded = true
      if (this.#fa !== undefined) this.#answered(false)
      if (this.#backend !== undefined) finishWrites(this.#backend)
    })
    client.on('error', (err) => this.#fail('client-error', err))
    client.on('close', () => this.#onClose())
  }

  /** The first-answer mode is over: the backend answered (`byBackend`), or replay was given up. */
  #answered(byBackend: boolean): void {
    const fa = this.#fa
    if (fa === undefined) return
    this.#fa = undefined
    fa.done()
    if (byBackend) fa.opts.answered()
  }

  /** No first byte in time: let this backend go (its close is not the pipe's), and ask the owner. */
  #stalled(): void {
    const fa = this.#fa
    const backend = this.#backend
    if (fa === undefined || backend === undefined || this.#done) return
    this.#backend = undefined
    backend.removeAllListeners()
    backend.on('error', () => {})
    backend.destroy()
    this.#client.pause()
    fa.opts.stalled(fa.keptBytes)
  }

  /** Ends both sides now (shutdown past the grace period, or a forced close). */
  destroy(reason: string): void {
    this.#fail(reason, undefined)
  }

  #fromBackend(n: number, buf: Buffer): boolean {
    if (this.#fa !== undefined) this.#answered(true)
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
    if (this.#fa !== undefined) this.#answered(false)
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
