import type { HandleBindings, TcpHandle } from './handles.js'
import type { PipeResult } from './pipe.js'
import { FirstAnswerState, type FirstAnswerOptions } from './first-answer.js'
import { ReadBuffer, UNREFERENCED, type LargeBuffers } from './read-buffer.js'
import { TcpConn, type ConnSink } from './tcp-conn.js'

/**
 * Pipe (net/pipe.ts) on bare handles, with the same contract and results:
 * - the client handle is not read until `attach(backend)`; bytes it sent meanwhile wait in the kernel.
 * - half-close: one side's EOF shuts the other side's write half down after its pending writes;
 *   a side is closed once it has received EOF and has nothing left to write after its own
 *   (closeIfDone). Any error closes both.
 * - backpressure both ways: a side stops reading while its bytes wait to be written to the other.
 * - backend reads land in a ReadBuffer (shared buffer, then a large one of the pipe's own).
 * - `onDone` is called exactly once, once both handles are closed.
 * - with `firstAnswer`, as Pipe: client reads (libuv allocates a fresh buffer for each) are kept
 *   until the backend's first byte; on a stall the backend is closed and `attach` may be called
 *   again. The backend's reads land in `data` here anyway, so seeing the first byte costs one flag
 *   test, and the handle path keeps its speed in this mode.
 */
export class HandlePipe implements ConnSink {
  bytesFromClient = 0
  bytesToClient = 0
  readonly #b: HandleBindings
  readonly #client: TcpConn
  #backend: TcpConn | undefined
  readonly #rb: ReadBuffer
  readonly #onDone: (r: PipeResult) => void
  #reason = 'closed'
  #error: Error | undefined
  #open = 1
  #done = false
  readonly #idleMs: number
  #idleTimer: NodeJS.Timeout | undefined
  #lastActive = 0
  /** set while waiting for the backend's first byte with first-answer failover on */
  #fa: FirstAnswerState | undefined
  #clientEnded = false

  constructor(
    b: HandleBindings,
    client: TcpHandle,
    opts: {
      idleTimeoutMs: number
      onDone: (r: PipeResult) => void
      largeBuffers?: LargeBuffers
      firstAnswer?: FirstAnswerOptions
    },
  ) {
    this.#b = b
    if (opts.firstAnswer !== undefined && opts.firstAnswer.timeoutMs > 0)
      this.#fa = new FirstAnswerState(opts.firstAnswer, () => this.#stalled())
    this.#client = new TcpConn(b, client, this)
    this.#rb = new ReadBuffer(opts.largeBuffers)
    this.#onDone = opts.onDone
    this.#idleMs = opts.idleTimeoutMs
    if (this.#idleMs > 0) {
      this.#lastActive = performance.now()
      this.#idleTimer = setTimeout(this.#checkIdle, this.#idleMs).unref()
    }
  }

  /** Whether the pipe was cut before a backend was attached. */
  get destroyed(): boolean {
    return this.#client.closing
  }

  attach(backend: TcpHandle): void {
    const conn = new TcpConn(this.#b, backend, this)
    this.#backend = conn
    this.#open++
    if (this.#client.closing) {
      this.#fa?.done()
      conn.close()
      return
    }
    conn.readInto(this.#rb.next())
    conn.resume()
    const fa = this.#fa
    if (fa?.kept !== undefined && fa.kept.length > 0) {
      // a replay after a stall: the handshake so far, then the client's next bytes
      for (const chunk of fa.kept) conn.write(chunk)
      fa.arm()
    }
    if (this.#clientEnded) conn.shutdown()
    this.#client.resume()
  }

  /** Ends both sides now (shutdown past the grace period, a forced close, no backend). */
  destroy(reason: string): void {
    this.#fail(reason, undefined)
  }

  data(conn: TcpConn, n: number, buf: Buffer): void {
    if (this.#idleTimer !== undefined) this.#lastActive = performance.now()
    const backend = this.#backend
    if (conn === this.#client) {
      this.bytesFromClient += n
      if (this.#fa !== undefined && !this.#fa.keep(buf)) this.#answered(false)
      if (backend === undefined) return // between a stall and the next attach: kept above
      // libuv allocated `buf` for this read: it is ours to hand on without a copy
      if (!backend.write(buf)) conn.pause()
      return
    }
    if (this.#fa !== undefined) this.#answered(true)
    this.bytesToClient += n
    const out = this.#rb.take(n, buf)
    const flushed = this.#client.write(out)
    this.#rb.settle(n, buf, !flushed)
    // Still referenced by a pending write: stop reading until it is flushed.
    if (!flushed) conn.pause()
    conn.readInto(this.#rb.next())
  }

  end(conn: TcpConn): void {
    if (conn === this.#client) {
      this.#clientEnded = true
      if (this.#fa !== undefined) this.#answered(false)
    }
    const other = conn === this.#client ? this.#backend : this.#client
    if (other !== undefined) {
      other.shutdown()
      closeIfDone(other)
    }
    closeIfDone(conn)
  }

  drained(conn: TcpConn): void {
    if (conn.writeEnded) return closeIfDone(conn)
    // the other side stopped reading while these bytes were pending
    const other = conn === this.#client ? this.#backend : this.#client
    other?.resume()
  }

  error(conn: TcpConn, err: Error): void {
    this.#fail(conn === this.#client ? 'client-error' : 'backend-error', err)
  }

  closed(): void {
    if (--this.#open > 0 || this.#done) return
    this.#done = true
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer)
    // Both handles are closed: no read can land in the buffer and no write references it any more.
    this.#rb.release(UNREFERENCED)
    this.#onDone({
      bytesFromClient: this.bytesFromClient,
      bytesToClient: this.bytesToClient,
      reason: this.#reason,
      error: this.#error,
    })
  }

  /** The first-answer mode is over: the backend answered (`byBackend`), or replay was given up. */
  #answered(byBackend: boolean): void {
    const fa = this.#fa
    if (fa === undefined) return
    this.#fa = undefined
    fa.done()
    if (byBackend) fa.opts.answered()
  }

  /**
   * No first byte in time: close this backend and ask the owner for another. Its `closed` only
   * takes back the count its `attach` added (the client keeps the pipe open).
   */
  #stalled(): void {
    const fa = this.#fa
    const backend = this.#backend
    if (fa === undefined || backend === undefined || this.#done) return
    this.#backend = undefined
    backend.close()
    this.#client.pause()
    fa.opts.stalled(fa.keptBytes)
  }

  #fail(reason: string, err: Error | undefined): void {
    if (this.#fa !== undefined) this.#answered(false)
    if (this.#reason === 'closed') {
      this.#reason = reason
      this.#error = err
    }
    this.#client.close()
    this.#backend?.close()
  }

  readonly #checkIdle = (): void => {
    const quiet = performance.now() - this.#lastActive
    if (quiet >= this.#idleMs) return this.#fail('idle-timeout', undefined)
    this.#idleTimer = setTimeout(this.#checkIdle, this.#idleMs - quiet).unref()
  }
}

/**
 * A side that got its peer's EOF and was asked to send its own, with nothing left to write, is
 * closed at once: close(2) sends the same FIN the pending shutdown would, a turn of the event loop
 * sooner (a side still reading, or still writing, is left to its EOF or its `drained`).
 */
function closeIfDone(c: TcpConn): void {
  if (c.readEnded && c.writeEnded && c.pendingWrites === 0) c.close()
}
