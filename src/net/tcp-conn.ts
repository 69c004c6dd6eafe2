import { getSystemErrorName } from 'node:util'
import {
  UV_EOF,
  type HandleBindings,
  type SockAddr,
  type TcpHandle,
  type WriteReq,
} from './handles.js'

/** What a TcpConn reports, to exactly one owner (a HandlePipe). Never called after `closed`. */
export interface ConnSink {
  /** `n` bytes were read into `buf` (from 0). Valid only during the call unless `buf` is the owner's own. */
  data(conn: TcpConn, n: number, buf: Buffer): void
  /** the peer sent EOF; no more `data` */
  end(conn: TcpConn): void
  /** a read, write or shutdown failed (the conn is not closed by itself) */
  error(conn: TcpConn, err: Error): void
  /** every write handed to the kernel (none is pending any more); not called for shutdown */
  drained(conn: TcpConn): void
  /**
   * `close()` was called: called synchronously from it. libuv reads and writes nothing through
   * the handle from then on (uv_close closes the descriptor at once; writes still pending are
   * cancelled, their buffers kept alive by their requests until then).
   */
  closed(conn: TcpConn): void
}

/** A socket error with Node's usual `code` (ECONNRESET, ...) and `syscall`. */
export function uvError(
  status: number,
  syscall: string,
): Error & { code: string; syscall: string } {
  const code = safeName(status)
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: status })
}

function safeName(status: number): string {
  try {
    return getSystemErrorName(status)
  } catch {
    return `UV_${status}`
  }
}

/** `address:port` of a handle's peer, '?:?' when unknown (a syscall: call it only when it is used) */
export function handlePeer(h: TcpHandle): string {
  const out: SockAddr = {}
  if (h.getpeername(out) < 0) return '?:?'
  return `${out.address ?? '?'}:${out.port ?? '?'}`
}

/**
 * One TCP connection on a bare libuv handle: reads, writes, half-close, close. No buffering and no
 * events beyond its sink; backpressure is the owner's (`pendingWrites`, `pause`, `resume`).
 *
 * Contract:
 * - writes are handed to libuv at once; a write the kernel did not take whole stays pending
 *   (`pendingWrites`) and keeps its buffer alive until done; `drained` follows the last one.
 * - `shutdown()` sends FIN after the pending writes and reports nothing: once nothing is pending,
 *   `close()` sends the same FIN, so an owner closes a side that is done both ways without
 *   waiting for it (and a close before the shutdown ran cancels it harmlessly).
 * - `close()` drops whatever is still pending.
 * - reads land in a buffer libuv allocates, or in `userBuffer` when one is set (`readInto`);
 *   the sink's `data` may swap that buffer by calling `readInto` again.
 */
export class TcpConn {
  readonly handle: TcpHandle
  pendingWrites = 0
  /** EOF received */
  readEnded = false
  /** shutdown requested (FIN queued behind pending writes) */
  writeEnded = false
  closing = false
  readonly #b: HandleBindings
  readonly #sink: ConnSink
  #reading = false
  #user: Buffer | undefined
  /** set while `data` runs, so a readInto() inside it is returned to libuv instead of applied */
  #inRead = false
  #next: Buffer | undefined
  readonly #onWriteDone = (status: number): void => {
    this.pendingWrites--
    if (this.closing) return
    if (status < 0) this.#sink.error(this, uvError(status, 'write'))
    else if (this.pendingWrites === 0) this.#sink.drained(this)
  }

  constructor(b: HandleBindings, handle: TcpHandle, sink: ConnSink) {
    this.#b = b
    this.handle = handle
    this.#sink = sink
    handle.onread = (ab) => this.#onRead(ab)
  }

  /** Reads land in `buf` from now on (from the next read, when called inside `data`). */
  readInto(buf: Buffer): void {
    if (buf === this.#user) return
    this.#user = buf
    if (this.#inRead) this.#next = buf
    else this.handle.useUserBuffer(buf)
  }

  resume(): void {
    if (this.#reading || this.readEnded || this.closing) return
    this.#reading = true
    const err = this.handle.readStart()
    if (err < 0) this.#sink.error(this, uvError(err, 'read'))
  }

  pause(): void {
    if (!this.#reading || this.closing) return
    this.#reading = false
    this.handle.readStop()
  }

  /** Hands `buf` to the kernel; true when it took all of it at once (nothing pending). */
  write(buf: Buffer): boolean {
    if (this.closing || this.writeEnded) return true
    const req: WriteReq = this.#b.newWriteReq()
    req.handle = this.handle
    req.oncomplete = this.#onWriteDone
    const err = this.handle.writeBuffer(req, buf)
    if (err < 0) {
      this.#sink.error(this, uvError(err, 'write'))
      return true
    }
    if (this.#b.state[this.#b.kLastWriteWasAsync] === 0) return true
    req.buffer = buf
    this.pendingWrites++
    return false
  }

  /**
   * FIN after the pending writes. The request has no `oncomplete`, so Node makes no call into
   * JavaScript when it is done (or cancelled by `close`); a failed shutdown means the peer is
   * gone, which its read side reports anyway.
   */
  shutdown(): void {
    if (this.writeEnded || this.closing) return
    this.writeEnded = true
    const req = this.#b.newShutdownReq()
    req.handle = this.handle
    const err = this.handle.shutdown(req)
    if (err < 0) this.#sink.error(this, uvError(err, 'shutdown'))
  }

  /**
   * Closes the handle (pending writes are dropped) and reports `closed` before returning.
   * Idempotent. No close callback is asked for: it would cost one more call into JavaScript per
   * handle, and nothing waits for it (see ConnSink.closed).
   */
  close(): void {
    if (this.closing) return
    this.closing = true
    this.#reading = false
    this.handle.close()
    this.#sink.closed(this)
  }

  #onRead(ab: ArrayBuffer | undefined): Uint8Array | undefined {
    const st = this.#b.state
    const n = st[this.#b.kReadBytesOrError] ?? 0
    if (this.closing) return undefined
    if (n > 0) {
      const buf =
        this.#user ?? Buffer.from(ab as ArrayBuffer, st[this.#b.kArrayBufferOffset] ?? 0, n)
      this.#inRead = true
      this.#next = undefined
      try {
        this.#sink.data(this, n, buf)
      } finally {
        this.#inRead = false
      }
      return this.#next
    }
    if (n === UV_EOF) {
      this.readEnded = true
      this.#reading = false
      this.#sink.end(this)
    } else if (n < 0) {
      this.#sink.error(this, uvError(n, 'read'))
    }
    return undefined
  }
}
