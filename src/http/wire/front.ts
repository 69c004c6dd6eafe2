/**
 * The HTTP/1.1 front of an HTTP route, on raw sockets: http-parser-js frames the requests, this
 * module applies the rules every Thrift-over-HTTP route shares and hands each complete call to the
 * route as an HttpExchange with its whole body.
 *
 * Contract:
 * - only POSTs on the route's path (or below it) reach the route; other paths get 404, other
 *   methods 405 (the body is read and dropped; the connection stays open);
 * - a body over `maxBodyBytes` gets 413 and the connection closes: before a `100 Continue` when
 *   `Content-Length` says so, else as soon as the limit is passed while reading;
 * - `Expect: 100-continue` is answered by the front once the request is next in line;
 * - keep-alive (HTTP/1.1 by default, HTTP/1.0 on request), pipelined requests answered in order
 *   (at most PIPELINE_MAX parsed ahead; reading pauses beyond), `Connection: close` honoured;
 *   a client that shuts its side abandons what it asked (the connection closes at once);
 * - bytes that are not HTTP (400), a head over `maxHeaderBytes` (431), a head that does not arrive
 *   within `headersTimeoutMs` of its first byte, or of the connection's start (408, slowloris), end
 *   only that connection, with one log line; an idle keep-alive connection closes after
 *   `keepAliveTimeoutMs` (both checked by a sweep: up to a quarter of the shorter one late);
 * - `stopAccepting` closes the listener and idle connections; requests in flight finish, and
 *   their connections close after the answer.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type net from 'node:net'
import type { HostPort } from '../../config/types.js'
import { errorCode, errorMessage } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { Listener, type ListenerTls } from '../../net/listener.js'
import {
  type HeaderLines,
  type HttpParser,
  framedByLength,
  hasToken,
  headBytes,
  headerObject,
  headerValue,
  joinRepeat,
  newParser,
  parserLib,
  withHead,
  writeHead,
} from './message.js'
import { statusLine } from './status.js'

/** What a route accepts: its servlet path (no leading `/`) and the largest body it reads. */
export interface ThriftPostRules {
  path: string
  maxBodyBytes: number
  /** named in the 404 text: "the <service> path is /<path>" */
  service: string
}

export interface WireFrontOptions {
  listen: HostPort
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
  /** largest request line + headers, bytes (431 above it) */
  maxHeaderBytes: number
  /** read per request: a reload may change them */
  rules: () => ThriftPostRules
  logger: Logger
  /** HTTPS: clients connect with TLS (the same parsing and limits apply inside it) */
  tls?: ListenerTls | undefined
}

/** Request line + headers limit: a Kerberos ticket in `Authorization: Negotiate` plus cookies fit. */
export const MAX_HEADER_BYTES = 64 * 1024
/** Requests parsed ahead of the one being answered before the front stops reading a connection. */
const PIPELINE_MAX = 16

/** An answer the front gives itself (404, 405, 413), in line with the connection's other answers. */
interface Preset {
  status: number
  text: string
  headers?: OutgoingHttpHeaders
  close: boolean
}

/** The request being parsed. */
interface Incoming {
  method: string
  url: string
  suffix: string
  /** the parser's flat `[name, value, ...]` list */
  raw: string[]
  keepAlive: boolean
  http10: boolean
  chunks: Buffer[]
  size: number
  preset: Preset | undefined
  /** waits for `100 Continue` */
  expects: boolean
  continued: boolean
}

export class WireFront {
  readonly #listener: Listener
  readonly #conns = new Set<FrontConnection>()
  readonly #sweepMs: number
  #sweeper: NodeJS.Timeout | undefined
  #stopping = false

  constructor(
    o: WireFrontOptions,
    accept: (ex: HttpExchange) => void,
    acceptError: (err: Error) => void,
  ) {
    // one sweep per front instead of a timer per request (setTimeout and clearTimeout per call
    // were a measurable part of the front's cost): deadlines are met within a quarter of the
    // shorter timeout (50 ms to 1 s late), as node:http's connectionsCheckingInterval does
    this.#sweepMs = Math.max(
      50,
      Math.min(1_000, Math.floor(Math.min(o.headersTimeoutMs, o.keepAliveTimeoutMs) / 4)),
    )
    this.#listener = new Listener(
      o.listen,
      (socket) => {
        const c = new FrontConnection(socket, o, accept, () => this.#conns.delete(c))
        this.#conns.add(c)
        if (this.#stopping) c.closeWhenIdle()
      },
      acceptError,
      o.tls,
    )
  }

  async listen(): Promise<HostPort> {
    const addr = await this.#listener.listen()
    this.#sweeper ??= setInterval(() => {
      const now = Date.now()
      for (const c of this.#conns) c.check(now)
    }, this.#sweepMs)
    this.#sweeper.unref()
    return addr
  }

  address(): HostPort {
    return this.#listener.address()
  }

  /** HTTPS fronts: the certificate for new connections (reload); live ones keep theirs. */
  setSecureContext(options: ListenerTls['options']): void {
    this.#listener.setSecureContext(options)
  }

  stopAccepting(): Promise<void> {
    this.#stopping = true
    for (const c of this.#conns) c.closeWhenIdle()
    return this.#listener.stopAccepting()
  }

  /** Cut every connection now (end of the shutdown grace). */
  closeAll(): void {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    for (const c of this.#conns) c.destroy()
  }
}

/** The client side of an answer, as a relay needs it: one object instead of a closure per event. */
export interface ExchangeWatcher {
  /** the client socket is drained again after `write` returned false */
  drained(): void
  /** the exchange is over (after its `onClose` functions): answer ended, or connection closed */
  closed(): void
}

/**
 * One call: the request (whole body) and its answer. The answer is written with `writeHead`, then
 * `write`/`end` (or `respond` at once); framing and `Connection` are the front's business.
 */
export class HttpExchange {
  readonly method: string
  readonly url: string
  /** what follows the route's path: a sub-path and the query string, passed on to the backend */
  readonly suffix: string
  /** the request's headers as the parser read them: `[name, value, ...]`, names as sent */
  readonly rawHeaders: readonly string[]
  readonly body: Buffer
  headersSent = false
  finished = false
  /** hears the client side of an answer being relayed (http/upstream.ts relay) */
  watcher: ExchangeWatcher | undefined
  /** keep the connection open after the answer (the request asked so; `respond(..., close)` ends it) */
  keepAlive: boolean
  /** @internal the front's own answer (404, 405, 413): routes never see such an exchange */
  readonly preset: Preset | undefined
  readonly #conn: FrontConnection
  readonly #http10: boolean
  #chunked = false
  /** the head, written with the first body bytes (one write, one syscall, for the usual answer) */
  #head: string | undefined
  #closers: (() => void)[] | undefined
  #over = false
  #headers: IncomingHttpHeaders | undefined

  constructor(conn: FrontConnection, inc: Incoming, body: Buffer) {
    this.#conn = conn
    this.method = inc.method
    this.url = inc.url
    this.suffix = inc.suffix
    this.rawHeaders = inc.raw
    this.body = body
    this.keepAlive = inc.keepAlive
    this.#http10 = inc.http10
    this.preset = inc.preset
  }

  /** The headers as Node shapes them (message.ts headerObject), built on first use. */
  get headers(): IncomingHttpHeaders {
    // the front refused values holding CR, so the object is always whole
    this.#headers ??= headerObject(this.rawHeaders) ?? {}
    return this.#headers
  }

  /** One header (lower-case `name`), without building the object. */
  header(name: string): string | undefined {
    return headerValue(this.rawHeaders, name)
  }

  get remoteAddress(): string | undefined {
    return this.#conn.remoteAddress
  }

  get remotePort(): number | undefined {
    return this.#conn.remotePort
  }

  /** The client connection is gone (or its answer was cut): nothing more can be written. */
  get destroyed(): boolean {
    return this.#conn.destroyed
  }

  /** `fn` runs once when this exchange is over: its answer ended, or its connection closed. */
  onClose(fn: () => void): void {
    if (this.#over) fn()
    else if (this.#closers === undefined) this.#closers = [fn]
    else this.#closers.push(fn)
  }

  /**
   * Status line and headers (an object, or header lines: message.ts HeaderLines). A Content-Length,
   * when given, frames the body; else it is chunked.
   */
  writeHead(status: number, headers: OutgoingHttpHeaders | HeaderLines, reason?: string): void {
    if (this.headersSent || this.destroyed) return
    this.headersSent = true
    let extra = ''
    const bodyless = status === 204 || status === 304
    if (!framedByLength(headers) && !bodyless) {
      if (this.#http10) this.keepAlive = false
      else {
        this.#chunked = true
        extra = 'transfer-encoding: chunked\r\n'
      }
    }
    if (this.#conn.closing) this.keepAlive = false
    if (!this.keepAlive) extra += 'connection: close\r\n'
    else if (this.#http10) extra += 'connection: keep-alive\r\n'
    const head = writeHead(statusLine(status, reason), headers, extra)
    if (this.#chunked) this.#conn.send(head)
    else this.#head = head
  }

  /** false: the client is slow; wait for `watcher.drained()` before writing more. */
  write(chunk: Buffer): boolean {
    if (this.finished || this.destroyed || chunk.length === 0) return true
    if (this.#chunked) return this.#conn.sendChunk(chunk)
    const head = this.#head
    if (head === undefined) return this.#conn.sendBody(chunk)
    this.#head = undefined
    return this.#conn.sendBody(withHead(head, chunk))
  }

  end(chunk?: Buffer): void {
    if (this.finished) return
    if (chunk !== undefined) this.write(chunk)
    this.finished = true
    if (this.#head !== undefined) this.#conn.send(this.#head)
    this.#head = undefined
    if (this.#chunked && !this.destroyed) this.#conn.send('0\r\n\r\n')
    this.#conn.answered(this)
  }

  /** A whole answer with a Content-Length; `close`: the connection closes after it. */
  respond(
    status: number,
    headers: OutgoingHttpHeaders,
    body: Buffer | string,
    close = false,
  ): void {
    if (close) this.keepAlive = false
    const b = typeof body === 'string' ? Buffer.from(body) : body
    this.writeHead(status, { ...headers, 'content-length': b.length })
    this.end(b)
  }

  /** Cut the client connection (a broken answer must not look whole). */
  destroy(): void {
    this.#conn.destroy()
  }

  /** @internal the answer ended or the connection closed */
  over(): void {
    if (this.#over) return
    this.#over = true
    const fns = this.#closers
    this.#closers = undefined
    if (fns !== undefined) for (const fn of fns) fn()
    const w = this.watcher
    this.watcher = undefined
    w?.closed()
  }
}

/** @internal one client connection (exported for HttpExchange's type only) */
export class FrontConnection {
  readonly #socket: net.Socket
  readonly #o: WireFrontOptions
  readonly #accept: (ex: HttpExchange) => void
  readonly #gone: () => void
  readonly #parser: HttpParser
  #reading: Incoming | undefined
  readonly #queue: HttpExchange[] = []
  #current: HttpExchange | undefined
  /** a problem the parser callbacks found: the connection ends with `status` */
  #bad: { status: number; code: string; why: string } | undefined
  /** no more requests are read: answer those in line, then close */
  closing = false
  /** stop parsing now (an early 413, a bad request): the rest of the input is not HTTP to us */
  #halted = false
  #pumping = false
  /** when the head or idle time runs out (epoch ms; WireFront's sweep checks it), 0: none */
  #deadline = 0
  #timerKind: 'head' | 'idle' | undefined
  #baseOf: ThriftPostRules | undefined
  #basePath = ''
  destroyed = false
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined

  constructor(
    socket: net.Socket,
    o: WireFrontOptions,
    accept: (ex: HttpExchange) => void,
    gone: () => void,
  ) {
    this.#socket = socket
    this.#o = o
    this.#accept = accept
    this.#gone = gone
    this.remoteAddress = socket.remoteAddress
    this.remotePort = socket.remotePort
    const p = newParser('REQUEST', o.maxHeaderBytes)
    const { HTTPParser } = parserLib()
    p[HTTPParser.kOnHeadersComplete] = (info) => {
      this.#head(info.method, info.url, info.headers, info.versionMinor, info.shouldKeepAlive)
    }
    p[HTTPParser.kOnBody] = (buf, start, len) => this.#body(buf, start, len)
    p[HTTPParser.kOnMessageComplete] = () => this.#complete()
    this.#parser = p
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#data(chunk))
    socket.on('drain', () => this.#current?.watcher?.drained())
    socket.on('end', () => this.#clientEnded())
    socket.on('close', () => this.#closed())
    socket.on('error', (err) =>
      o.logger.debug(
        { code: errorCode(err), err: errorMessage(err) },
        'HTTP client connection failed',
      ),
    )
    // a connection that sends nothing is held no longer than a slow head would be
    this.#arm('head')
    socket.resume()
  }

  /** Close now if nothing is in flight; else after the answers in line. */
  closeWhenIdle(): void {
    this.closing = true
    if (this.#idle()) this.destroy()
  }

  destroy(): void {
    if (!this.destroyed) this.#socket.destroy()
  }

  send(s: string): void {
    if (!this.destroyed) this.#socket.write(s, 'latin1')
  }

  sendBody(chunk: Buffer): boolean {
    if (this.destroyed) return true
    return this.#socket.write(chunk)
  }

  sendChunk(chunk: Buffer): boolean {
    if (this.destroyed) return true
    const s = this.#socket
    s.cork()
    s.write(`${chunk.length.toString(16)}\r\n`, 'latin1')
    s.write(chunk)
    const ok = s.write('\r\n', 'latin1')
    s.uncork()
    return ok
  }

  /** The current exchange's answer is complete. */
  answered(ex: HttpExchange): void {
    if (ex !== this.#current) return
    this.#current = undefined
    ex.over()
    if (!ex.keepAlive) this.closing = true
    this.#pump()
  }

  #data(chunk: Buffer): void {
    if (this.#halted) return
    if (this.#reading === undefined && this.#timerKind !== 'head') this.#arm('head')
    const r = this.#parser.execute(chunk)
    const bad = this.#bad ?? (r instanceof Error ? parseFailure(r) : undefined)
    if (bad !== undefined) {
      this.#reject(bad.status, bad.code, bad.why)
      return
    }
    if (this.#queue.length >= PIPELINE_MAX) this.#socket.pause()
    this.#pump()
  }

  /** `keepAlive`: Connection and the HTTP version as the parser read them */
  #head(methodIndex: number, url: string, raw: string[], minor: number, keepAlive: boolean): void {
    if (this.#timerKind === 'head') this.#disarm()
    if (this.#halted) return
    if (headBytes(url, raw) > this.#o.maxHeaderBytes) {
      this.#bad = {
        status: 431,
        code: 'HPE_HEADER_OVERFLOW',
        why: 'request head over the size limit',
      }
      return
    }
    // the headers the front reads, in one pass without an object (lines are split at LF, so only
    // a stray CR can hide in a value)
    let cl: string | undefined
    let te: string | undefined
    let expect: string | undefined
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const v = raw[i + 1] as string
      if (v.includes('\r')) {
        this.#bad = {
          status: 400,
          code: 'HPE_INVALID_HEADER_TOKEN',
          why: 'a header value holds CR or LF',
        }
        return
      }
      const name = raw[i] as string
      // only names of these lengths can matter: the others are not lower-cased
      if (name.length !== 14 && name.length !== 17 && name.length !== 6) continue
      const k = name.toLowerCase()
      if (k === 'content-length') cl = joinRepeat(k, cl, v)
      else if (k === 'transfer-encoding') te = joinRepeat(k, te, v)
      else if (k === 'expect') expect = joinRepeat(k, expect, v)
    }
    const method = parserLib().methods[methodIndex] ?? 'UNKNOWN'
    const http10 = minor === 0
    const inc: Incoming = {
      method,
      url,
      suffix: '',
      raw,
      keepAlive,
      http10,
      chunks: [],
      size: 0,
      preset: undefined,
      expects: hasToken(expect, '100-continue'),
      continued: false,
    }
    this.#reading = inc
    const rules = this.#o.rules()
    const q = url.indexOf('?')
    const pathname = q < 0 ? url : url.slice(0, q)
    const base = this.#base(rules)
    if (cl !== undefined && !/^\d+$/.test(cl)) {
      this.#bad = {
        status: 400,
        code: 'HPE_INVALID_CONTENT_LENGTH',
        why: 'Content-Length is not a number',
      }
      return
    }
    if (te !== undefined && te.toLowerCase() !== 'chunked') {
      this.#bad = {
        status: 400,
        code: 'HPE_INVALID_TRANSFER_ENCODING',
        why: `Transfer-Encoding ${te} is not supported`,
      }
      return
    }
    if (pathname !== base && !pathname.startsWith(`${base}/`)) {
      inc.preset = {
        status: 404,
        text: `no Thrift service at ${pathname}; the ${rules.service} path is ${base}`,
        close: inc.expects,
      }
    } else if (method !== 'POST') {
      inc.preset = {
        status: 405,
        text: 'Thrift over HTTP takes POST requests',
        headers: { allow: 'POST' },
        close: inc.expects,
      }
    } else if (cl !== undefined && Number(cl) > rules.maxBodyBytes) {
      inc.preset = {
        status: 413,
        text: `request body over ${rules.maxBodyBytes} bytes`,
        close: true,
      }
    } else {
      inc.suffix = pathname.slice(base.length) + (q < 0 ? '' : url.slice(q))
    }
    // answered before its body: a client waiting for 100 Continue, or a body that is too big
    if (inc.preset?.close === true) this.#cutShort(inc)
    else this.#continue()
  }

  /** `/<path>` of the rules in force (made again only when a reload brings new rules). */
  #base(rules: ThriftPostRules): string {
    if (rules !== this.#baseOf) {
      this.#baseOf = rules
      this.#basePath = `/${rules.path}`
    }
    return this.#basePath
  }

  /** `100 Continue` for the request being read, once it is next in line. */
  #continue(): void {
    const inc = this.#reading
    if (inc === undefined || !inc.expects || inc.continued) return
    if (this.#current !== undefined || this.#queue.length > 0) return
    inc.continued = true
    this.send('HTTP/1.1 100 Continue\r\n\r\n')
  }

  #body(buf: Buffer, start: number, len: number): void {
    const inc = this.#reading
    if (inc === undefined || inc.preset !== undefined) return
    inc.size += len
    const max = this.#o.rules().maxBodyBytes
    if (inc.size > max) {
      inc.preset = { status: 413, text: `request body over ${max} bytes`, close: true }
      this.#cutShort(inc)
      return
    }
    inc.chunks.push(start === 0 && len === buf.length ? buf : buf.subarray(start, start + len))
  }

  #complete(): void {
    const inc = this.#reading
    this.#reading = undefined
    // a request whose head was refused (#bad) is answered 400 by #data, never queued
    if (inc === undefined || this.#halted || this.#bad !== undefined) return
    this.#line(inc)
  }

  /** Queue `inc` now, unread body and all, and read nothing after it. */
  #cutShort(inc: Incoming): void {
    this.#reading = undefined
    this.#halted = true
    this.closing = true
    this.#socket.pause()
    this.#line(inc)
  }

  #line(inc: Incoming): void {
    const chunks = inc.chunks
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, inc.size)
    inc.chunks = []
    this.#queue.push(new HttpExchange(this, inc, body))
  }

  /** Hand the next request in line to the route (or answer it), one at a time. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#current === undefined && !this.destroyed) {
        const ex = this.#queue.shift()
        if (ex === undefined) break
        this.#current = ex
        const preset = ex.preset
        if (preset === undefined) this.#accept(ex)
        else {
          ex.respond(
            preset.status,
            { ...preset.headers, ...PLAIN },
            `${preset.text}\n`,
            preset.close,
          )
        }
      }
    } finally {
      this.#pumping = false
    }
    if (this.destroyed || this.#current !== undefined) return
    if (this.#queue.length < PIPELINE_MAX && !this.#halted) this.#socket.resume()
    if (this.closing) {
      this.#finish()
      return
    }
    this.#continue()
    if (this.#reading === undefined && this.#timerKind === undefined) this.#arm('idle')
  }

  #idle(): boolean {
    return this.#current === undefined && this.#queue.length === 0 && this.#reading === undefined
  }

  /** Send what is written, then close. */
  #finish(): void {
    this.#disarm()
    const s = this.#socket
    if (s.writableEnded) return
    s.end(() => s.destroy())
  }

  /**
   * The client shut its side. As node:http does, requests in flight are abandoned (their routes
   * hear `gone`): clients close only when they are done or gone, and a half-closed one that still
   * wants an answer is rare, while an answer held for a client that left can be long.
   */
  #clientEnded(): void {
    this.destroy()
  }

  #closed(): void {
    this.destroyed = true
    this.#disarm()
    const ex = this.#current
    this.#current = undefined
    ex?.over()
    this.#queue.length = 0
    this.#gone()
  }

  #reject(status: number, code: string, why: string): void {
    this.#halted = true
    this.#reading = undefined
    this.#o.logger.warn(
      { code, status, err: why },
      'bad HTTP from a client; closing that connection',
    )
    const s = this.#socket
    if (this.#current !== undefined || this.#queue.length > 0 || !s.writable) {
      s.destroy()
      return
    }
    this.#disarm()
    // destroyed once written: a client that never reads or ends (slowloris) does not keep it open
    s.end(`${statusLine(status)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, 'latin1', () =>
      s.destroy(),
    )
  }

  #arm(kind: 'head' | 'idle'): void {
    this.#timerKind = kind
    const ms = kind === 'head' ? this.#o.headersTimeoutMs : this.#o.keepAliveTimeoutMs
    this.#deadline = Date.now() + ms
  }

  #disarm(): void {
    this.#deadline = 0
    this.#timerKind = undefined
  }

  /** @internal WireFront's sweep: act on a deadline that has passed */
  check(now: number): void {
    const kind = this.#timerKind
    if (kind === undefined || this.#deadline === 0 || now < this.#deadline) return
    this.#disarm()
    if (kind === 'idle') {
      if (this.#idle()) this.destroy()
      return
    }
    this.#reject(
      408,
      'HPE_HEADERS_TIMEOUT',
      `the request head did not arrive within ${this.#o.headersTimeoutMs} ms`,
    )
  }
}

const PLAIN: OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8' }

function parseFailure(err: Error): { status: number; code: string; why: string } {
  const why = errorMessage(err)
  if (why === 'max header size exceeded')
    return { status: 431, code: 'HPE_HEADER_OVERFLOW', why: 'request head over the size limit' }
  const code = errorCode(err)
  return { status: 400, code: code === 'UNKNOWN' ? 'HPE_INVALID' : code, why }
}
