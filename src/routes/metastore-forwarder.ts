import type net from 'node:net'
import type { Logger } from '../logger.js'
import type { BackendInfo } from '../backends/backend.js'
import { errorCode } from '../errors.js'
import {
  scanReadBuffers,
  ThriftScanner,
  type MessageHeader,
  type ScanError,
  type ScanEvents,
} from '../thrift/scanner.js'
import { ReadBuffer } from '../net/read-buffer.js'
import { SegmentQueue } from './segment-queue.js'
import { newCall, type Call } from './metastore-call.js'
import { isIdempotent, ONEWAY_METHODS, SESSION_SETTERS } from '../thrift/hms-methods.js'

const T_EXCEPTION = 3
const T_ONEWAY = 4
/** setMetaConf calls remembered per client connection for replay */
const MAX_SESSION_CALLS = 256

export type CallOutcome = 'reply' | 'exception' | 'oneway' | 'failed'

export interface ForwarderOptions {
  protocol: 'binary' | 'compact'
  framed: boolean
  maxMessageBytes: number
  maxReplayBytes: number
  /** how often one call may be re-sent after backend deaths */
  maxResends: number
  idleTimeoutMs: number
}

/** What the forwarder needs from its route; every side effect goes through here. */
export interface ForwarderHooks {
  /**
   * A backend connection by the selection rule, with connect-time failover; `avoid` goes last.
   * `onread` must be passed to net.connect: the backend is read into reused buffers.
   */
  connect(
    avoid: string | undefined,
    onread: net.OnReadOpts,
  ): Promise<{ socket: net.Socket; backend: BackendInfo }>
  release(key: string, bytesFromClient: number, bytesToClient: number): void
  onCall(method: string, outcome: CallOutcome, ms: number): void
  onResend(method: string): void
  onFailover(): void
  now(): number
  log: Logger
  done(): void
}

interface Backend {
  socket: net.Socket
  key: string
  /** where this socket's reads land (read-buffer.ts) */
  rb: ReadBuffer
  /** reads stopped until the client's write buffer is flushed */
  paused: boolean
  scanner: ThriftScanner
  /** the scanner's events of one push() */
  ev: ScanLog
  fromClient: number
  toClient: number
}

/**
 * Thrift-aware forwarding of one metastore client connection (design.md decision 7).
 *
 * Requests stream to the backend as they arrive and are also kept (up to maxReplayBytes) until
 * answered; answers stream to the client as they arrive, never buffered. Both directions are cut
 * into messages by resumable scanners. `set_ugi` and `setMetaConf` that succeeded are remembered
 * and replayed, in order, on every new backend connection, their answers swallowed. When the
 * backend goes away:
 * - between calls: the next request reconnects (selection rule, the dead backend last) first;
 * - during a call that is a read (or a session setter), fully kept, and of whose answer no byte
 *   reached the client: it is re-sent on the new backend;
 * - otherwise (a write in flight, a half-forwarded answer): the client connection is closed, so
 *   the client's own retry logic decides; nothing is ever sent twice behind its back.
 * Malformed or oversized messages, either way, end this connection only.
 */
export class ThriftForwarder {
  readonly #client: net.Socket
  readonly #o: ForwarderOptions
  readonly #h: ForwarderHooks
  readonly #reqScan: ThriftScanner
  readonly #calls: Call[] = []
  #current: Call | undefined
  /** client bytes not yet written to a backend, with the call each belongs to */
  readonly #pending = new SegmentQueue<Call>()
  #session: Call[] = []
  #backend: Backend | undefined
  #connecting = false
  #lastFailed: string | undefined
  #closed = false
  #clientEnded = false
  readonly #reqEv = new ScanLog()
  #respCall: Call | undefined

  constructor(client: net.Socket, o: ForwarderOptions, h: ForwarderHooks) {
    this.#client = client
    this.#o = o
    this.#h = h
    const opts = { protocol: o.protocol, framed: o.framed, maxMessageBytes: o.maxMessageBytes }
    this.#reqScan = new ThriftScanner(opts, this.#reqEv)
  }

  /** Takes over `client` (paused); `initial` are bytes already read from it while sniffing. */
  start(initial: Buffer): void {
    const c = this.#client
    c.on('data', (chunk: Buffer) => this.#fromClient(chunk))
    c.on('end', () => {
      this.#clientEnded = true
      if (this.#backend !== undefined) this.#backend.socket.end()
      else this.#finish()
    })
    c.on('close', () => this.#finish())
    if (this.#o.idleTimeoutMs > 0)
      c.setTimeout(this.#o.idleTimeoutMs, () => this.#fatal('idle timeout'))
    if (initial.length > 0) this.#fromClient(initial)
    if (!this.#connecting) c.resume()
  }

  /** Cut now (shutdown past the grace period). */
  destroy(reason: string): void {
    this.#fatal(reason)
  }

  #fromClient(chunk: Buffer): void {
    if (this.#closed) return
    const ev = this.#reqEv
    ev.n = 0
    const err = this.#reqScan.push(chunk)
    if (err !== undefined) return this.#malformed('request', err)
    let pos = 0
    for (let i = 0; i < ev.n; i++) {
      const e = ev.items[i] as MessageHeader | number
      if (typeof e !== 'number') {
        this.#begin(e)
        continue
      }
      this.#append(part(chunk, pos, e))
      this.#completeRequest()
      pos = e
    }
    if (pos < chunk.length) this.#append(part(chunk, pos, chunk.length))
    this.#flush()
  }

  #begin(h: MessageHeader): void {
    const c = this.#current ?? this.#open()
    c.name = h.name
    c.seqid = h.seqid
    c.oneway = h.type === T_ONEWAY || ONEWAY_METHODS.has(h.name)
    c.resendable = isIdempotent(h.name) || SESSION_SETTERS.has(h.name)
  }

  #open(): Call {
    const c = newCall(false, this.#h.now())
    this.#current = c
    this.#calls.push(c)
    return c
  }

  #append(seg: Buffer): void {
    if (seg.length === 0) return
    const c = this.#current ?? this.#open()
    c.size += seg.length
    if (c.parts !== null) {
      if (c.size <= this.#o.maxReplayBytes) c.parts.push(seg)
      else c.parts = null
    }
    this.#pending.push(seg, c)
  }

  #completeRequest(): void {
    const c = this.#current
    this.#current = undefined
    if (c === undefined) return
    c.complete = true
    if (!c.oneway) return
    // no answer will come: forget it once written (it stays queued in #pending until then)
    this.#calls.splice(this.#calls.indexOf(c), 1)
    this.#h.onCall(c.name, 'oneway', 0)
  }

  /** Writes queued client bytes to the backend, connecting first when there is none. */
  #flush(): void {
    if (this.#closed || this.#pending.length === 0) return
    const b = this.#backend
    if (b === undefined) return this.#reconnect()
    if (this.#connecting) return
    const q = this.#pending
    let full = false
    for (let i = 0; i < q.length; i++) {
      const seg = q.seg(i)
      q.owner(i).sent += seg.length
      b.fromClient += seg.length
      full = !b.socket.write(seg) || full
    }
    q.clear()
    if (full) {
      this.#client.pause()
      b.socket.once('drain', () => {
        if (!this.#connecting) this.#client.resume()
      })
    }
  }

  #reconnect(): void {
    if (this.#connecting || this.#closed) return
    this.#connecting = true
    this.#client.pause()
    const avoid = this.#lastFailed
    // Reads of this connection attempt are routed to the Backend once it is attached; the
    // callback is fixed at connect time (Node offers onread only there).
    const rb = new ReadBuffer(scanReadBuffers)
    let attached: Backend | undefined
    const onread: net.OnReadOpts = {
      buffer: rb.next,
      callback: (n, buf) =>
        attached === undefined ? true : this.#onBackendRead(attached, n, buf as Buffer),
    }
    this.#h.connect(avoid, onread).then(
      ({ socket, backend }) => (attached = this.#attach(socket, backend, rb)),
      (err: unknown) => this.#fatal(`no metastore to (re)connect to: ${errorCode(err)}`),
    )
  }

  #attach(socket: net.Socket, info: BackendInfo, rb: ReadBuffer): Backend | undefined {
    if (this.#closed) {
      socket.destroy()
      this.#h.release(info.key, 0, 0)
      return undefined
    }
    if (this.#lastFailed !== undefined) this.#h.onFailover()
    const ev = new ScanLog()
    const scanner = new ThriftScanner(
      {
        protocol: this.#o.protocol,
        framed: this.#o.framed,
        maxMessageBytes: this.#o.maxMessageBytes,
      },
      ev,
    )
    const b: Backend = {
      socket,
      key: info.key,
      rb,
      paused: false,
      scanner,
      ev,
      fromClient: 0,
      toClient: 0,
    }
    this.#backend = b
    socket.on('error', (err) => this.#backendGone(b, `error ${errorCode(err)}`))
    socket.on('end', () => this.#backendGone(b, 'closed by the metastore'))
    socket.on('close', () => this.#backendGone(b, 'closed'))
    // Replay the session state first: its answers are swallowed, in order, before any client call's.
    const replays = this.#session.map((s) => ({
      ...newCall(true, this.#h.now()),
      name: s.name,
      seqid: s.seqid,
      parts: s.parts,
      size: s.size,
      complete: true,
    }))
    this.#calls.unshift(...replays)
    for (const r of replays) for (const p of r.parts ?? []) socket.write(p)
    // Calls whose bytes went to the dead backend were judged re-sendable in #backendGone.
    for (const c of this.#calls) {
      if (c.internal || c.sent === 0) continue
      for (const p of c.parts ?? []) socket.write(p)
      c.sent = c.size
      b.fromClient += c.size
    }
    this.#connecting = false
    this.#h.log.debug(
      { backend: info.key, replayed: replays.length },
      'metastore connection attached',
    )
    this.#flush()
    if (!this.#clientEnded) this.#client.resume()
    return b
  }

  /** onread callback: false stops reading until the bytes handed to the client are flushed. */
  #onBackendRead(b: Backend, n: number, buf: Buffer): boolean {
    const out = b.rb.take(n, buf)
    this.#fromBackend(b, out)
    const pending = this.#client.writableLength !== 0
    b.rb.settle(n, buf, pending)
    if (!pending || this.#closed || b !== this.#backend) return true
    b.paused = true
    return false
  }

  /** whether no client write points into a backend read buffer any more */
  readonly #clientFlushed = (): boolean => this.#client.writableLength === 0 || this.#client.closed

  /** one function for every client write: Node then batches the callbacks of synchronous writes */
  readonly #flushed = (): void => {
    const b = this.#backend
    if (b === undefined || !b.paused || this.#client.writableLength !== 0) return
    b.paused = false
    b.socket.resume()
  }

  #fromBackend(b: Backend, chunk: Buffer): void {
    if (this.#closed || b !== this.#backend) return
    const ev = b.ev
    ev.n = 0
    const err = b.scanner.push(chunk)
    if (err !== undefined) return this.#malformed('response', err)
    let pos = 0
    for (let i = 0; i < ev.n; i++) {
      const e = ev.items[i] as MessageHeader | number
      if (typeof e !== 'number') {
        const head = this.#calls[0]
        if (head === undefined || head.name !== e.name) {
          return this.#fatal(
            `unexpected answer "${e.name}" from the metastore (expected ${head === undefined ? 'none' : `"${head.name}"`})`,
          )
        }
        this.#respCall = head
        head.exception = e.type === T_EXCEPTION
        continue
      }
      this.#deliver(b, part(chunk, pos, e))
      this.#completeResponse()
      pos = e
    }
    if (pos < chunk.length) this.#deliver(b, part(chunk, pos, chunk.length))
  }

  #deliver(b: Backend, seg: Buffer): void {
    const call = this.#respCall ?? this.#calls[0]
    if (seg.length === 0 || call === undefined || call.internal) return
    call.replyStarted = true
    b.toClient += seg.length
    this.#client.write(seg, this.#flushed)
  }

  #completeResponse(): void {
    const c = this.#calls.shift()
    this.#respCall = undefined
    if (c === undefined || c.internal) return
    this.#h.onCall(c.name, c.exception ? 'exception' : 'reply', this.#h.now() - c.startedAt)
    if (SESSION_SETTERS.has(c.name) && !c.exception) this.#remember(c)
  }

  /** set_ugi replaces the earlier one; setMetaConf calls accumulate in order. */
  #remember(c: Call): void {
    if (c.parts === null) {
      this.#h.log.warn(
        { method: c.name, size: c.size },
        'session call too large to replay; failover will close this client',
      )
      this.#session = [{ ...c, parts: null }]
      return
    }
    if (c.name === 'set_ugi') this.#session = this.#session.filter((s) => s.name !== 'set_ugi')
    if (this.#session.length >= MAX_SESSION_CALLS) this.#session.shift()
    this.#session.push(c)
  }

  #backendGone(b: Backend, why: string): void {
    if (b !== this.#backend || this.#closed) return
    this.#backend = undefined
    b.socket.destroy()
    // client writes may still point into its read buffer: it is reused once they are flushed
    b.rb.release(this.#clientFlushed)
    this.#h.release(b.key, b.fromClient, b.toClient)
    this.#lastFailed = b.key
    if (this.#clientEnded) return this.#finish()
    const problem = this.#unrecoverable()
    if (problem !== undefined) return this.#fatal(`metastore ${b.key} ${why} with ${problem}`)
    this.#calls.splice(0, this.#calls.length, ...this.#calls.filter((c) => !c.internal))
    this.#respCall = undefined
    const resend = this.#calls.filter((c) => c.sent > 0)
    for (const c of resend) {
      c.resends++
      this.#h.onResend(c.name)
      // its queued bytes are in parts already and go out with the wholesale re-send
      this.#pending.drop(c)
    }
    this.#h.log.info(
      { backend: b.key, why, resend: resend.map((c) => c.name), replay: this.#session.length },
      'metastore gone; failing over',
    )
    if (this.#calls.length > 0 || this.#pending.length > 0) this.#reconnect()
  }

  /** Why this connection cannot fail over transparently, or undefined when it can. */
  #unrecoverable(): string | undefined {
    if (this.#session.some((s) => s.parts === null)) return 'session state too large to replay'
    for (const c of this.#calls) {
      if (c.internal || c.sent === 0) continue
      if (c.replyStarted) return `"${c.name}" half answered`
      if (!c.resendable) return `"${c.name}" in flight (not safe to re-send)`
      if (c.parts === null) return `"${c.name}" in flight (larger than maxReplayBytes)`
      if (c.resends >= this.#o.maxResends)
        return `"${c.name}" in flight (re-sent ${c.resends} times already)`
    }
    return undefined
  }

  #malformed(direction: 'request' | 'response', err: ScanError): void {
    this.#fatal(`malformed or oversized ${direction}: ${err.code} ${err.message}`)
  }

  #fatal(reason: string): void {
    if (this.#closed) return
    this.#h.log.warn(
      { reason, inFlight: this.#calls.filter((c) => !c.internal).map((c) => c.name) },
      'closing metastore client connection',
    )
    this.#client.destroy()
    this.#finish()
  }

  #finish(): void {
    if (this.#closed) return
    this.#closed = true
    this.#h.log.debug({ backend: this.#backend?.key }, 'metastore client connection closed')
    for (const c of this.#calls)
      if (!c.internal && c.complete) this.#h.onCall(c.name, 'failed', this.#h.now() - c.startedAt)
    const b = this.#backend
    this.#backend = undefined
    if (b !== undefined) {
      b.socket.destroy()
      // the client is destroyed below: its buffer is reused once the client has closed
      b.rb.release(this.#clientFlushed)
      this.#h.release(b.key, b.fromClient, b.toClient)
    }
    this.#client.destroy()
    this.#h.done()
  }
}

/**
 * A scanner's events of one push(), in order. Reused for a connection's life: setting `n` to 0
 * forgets them without shrinking the array (slots keep small header objects until overwritten).
 */
class ScanLog implements ScanEvents {
  readonly items: (MessageHeader | number)[] = []
  n = 0

  onHeader(h: MessageHeader): void {
    this.items[this.n++] = h
  }

  onEnd(end: number): void {
    this.items[this.n++] = end
  }
}

/** `chunk[from, to)`; the chunk itself when that is all of it (the common one-message read). */
function part(chunk: Buffer, from: number, to: number): Buffer {
  return from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to)
}
