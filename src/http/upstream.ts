/**
 * One request to one backend, as the HTTP routes see it (over http/wire/client.ts).
 *
 * Contract:
 * - `send()` tells its waiter `headers(this)` once the response headers arrived, with
 *   `statusCode` and `headers` set, or `failed(err)` when the request failed before them (a
 *   connect error, a closed socket, the stall timer below); exactly one, once. `headers` is called
 *   from inside the backend socket's read (no promise, no tick): a sink attached there gets the
 *   body as it is parsed. `start()` is the same as a promise;
 * - body chunks that arrive before `pipe()` are kept, in order (the headers and the first chunk
 *   usually come in one read), and given to the sink when it is attached;
 * - a sink's `data` returning false pauses the backend socket until `resume()`;
 * - `abort()` ends the exchange from the client's side (the backend socket is closed: its answer
 *   would be taken for the next request's); the sink hears nothing after it;
 * - stall timer: when the response headers did not arrive `stall.ms` after `start()` (with a
 *   `stall.clock`, up to a quarter of it later: stall-clock.ts),
 *   `onStall(heard)` builds the error (`heard`: some byte of an answer had arrived on the
 *   request's socket), the request is dropped and `response` rejects with that error. A request
 *   still waiting for its socket is dropped before any byte is written.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { BackendConn, BackendPool, CallHandler, WireRequest } from './wire/client.js'
import type { ExchangeWatcher, HttpExchange } from './wire/front.js'
import type { StallClock, Watched } from './stall-clock.js'
import { type HeaderLines, headerObject, headerValue } from './wire/message.js'

export interface UpstreamSink {
  /** false: stop reading the backend until `resume()` */
  data(chunk: Buffer): boolean
  end(): void
  error(err: Error): void
}

/** Who hears how a request began (see Upstream). */
export interface UpstreamWaiter {
  headers(up: Upstream): void
  failed(err: unknown): void
}

export interface StallTimer {
  ms: number
  onStall: (heard: boolean) => Error
  /** keeps the deadline instead of a setTimeout of its own (a route's requests share one) */
  clock?: StallClock
}

export class Upstream implements CallHandler, Watched {
  statusCode = 0
  statusMessage = ''
  /** the answer's headers as the parser read them: `[name, value, ...]` */
  rawHeaders: readonly string[] = []
  #headers: IncomingHttpHeaders | undefined
  #waiter: UpstreamWaiter | undefined
  #conn: BackendConn | undefined
  #timer: NodeJS.Timeout | undefined
  #stall: StallTimer | undefined
  /** @internal StallClock's */
  stallAt = 0
  stallPrev: Watched | undefined
  stallNext: Watched | undefined
  /** the error that ended the exchange before the caller heard of it (stall, abort) */
  #cut: Error | undefined
  #sink: UpstreamSink | undefined
  #early: Buffer[] | undefined
  #ended = false
  #failed: Error | undefined

  /** The answer's headers as Node shapes them, built on first use. */
  get headers(): IncomingHttpHeaders {
    this.#headers ??= headerObject(this.rawHeaders) ?? {}
    return this.#headers
  }

  /** One header (lower-case `name`), without building the object. */
  header(name: string): string | undefined {
    return headerValue(this.rawHeaders, name)
  }

  /** `send` as a promise: resolves at the response headers. */
  start(pool: BackendPool, req: WireRequest, stall?: StallTimer): Promise<Upstream> {
    return new Promise<Upstream>((resolve, reject) =>
      this.send(pool, req, stall, { headers: resolve, failed: reject }),
    )
  }

  /** Send `req` through `pool`; with `stall` (and `stall.ms` > 0), under the stall timer. */
  send(
    pool: BackendPool,
    req: WireRequest,
    stall: StallTimer | undefined,
    waiter: UpstreamWaiter,
  ): void {
    this.#waiter = waiter
    if (stall !== undefined && stall.ms > 0) {
      this.#stall = stall
      if (stall.clock !== undefined) stall.clock.watch(this, stall.ms)
      else this.#timer = setTimeout(() => this.expired(), stall.ms)
    }
    pool.dispatch(req, this)
  }

  /** @internal the stall timer ran out before the response headers */
  expired(): void {
    const stall = this.#stall
    this.#stall = undefined
    if (stall !== undefined) this.#cutOff(stall.onStall(this.#conn?.heard === true))
  }

  /** Attach where the body goes; chunks kept until now are given at once. */
  pipe(sink: UpstreamSink): void {
    this.#sink = sink
    const early = this.#early
    this.#early = undefined
    if (early !== undefined) for (const c of early) if (!sink.data(c)) this.#conn?.pause()
    if (this.#failed !== undefined) sink.error(this.#failed)
    else if (this.#ended) sink.end()
  }

  resume(): void {
    this.#conn?.resume()
  }

  /** The client is gone: drop the exchange (the backend socket closes). */
  abort(reason: Error): void {
    this.#sink = undefined
    this.#cutOff(reason)
  }

  attach(conn: BackendConn): boolean {
    if (this.#cut !== undefined) return false
    this.#conn = conn
    return true
  }

  connectFailed(err: unknown): void {
    this.#stopTimer()
    this.#settle()?.failed(err)
  }

  head(status: number, reason: string, raw: string[]): void {
    this.#stopTimer()
    this.statusCode = status
    this.statusMessage = reason
    this.rawHeaders = raw
    this.#settle()?.headers(this)
  }

  data(chunk: Buffer): void {
    const sink = this.#sink
    if (sink !== undefined) {
      if (!sink.data(chunk)) this.#conn?.pause()
    } else if (this.#cut === undefined) {
      if (this.#early === undefined) this.#early = [chunk]
      else this.#early.push(chunk)
    }
  }

  end(): void {
    this.#conn = undefined
    const sink = this.#sink
    this.#sink = undefined
    if (sink === undefined) this.#ended = true
    else sink.end()
  }

  fail(err: Error): void {
    this.#stopTimer()
    this.#conn = undefined
    const waiter = this.#settle()
    if (waiter !== undefined) {
      waiter.failed(this.#cut ?? err)
      return
    }
    const sink = this.#sink
    this.#sink = undefined
    if (sink !== undefined) sink.error(err)
    else if (this.#cut === undefined) this.#failed = err
  }

  #cutOff(err: Error): void {
    this.#stopTimer()
    if (this.#cut !== undefined) return
    this.#cut = err
    this.#early = undefined
    const conn = this.#conn
    this.#conn = undefined
    conn?.abandon()
    // the caller hears now; a request still waiting for a socket is never written (attach)
    this.#settle()?.failed(err)
  }

  #stopTimer(): void {
    const stall = this.#stall
    if (stall === undefined) return
    this.#stall = undefined
    if (stall.clock !== undefined) stall.clock.unwatch(this)
    else clearTimeout(this.#timer)
  }

  /** The waiter, the first time only: it hears once. */
  #settle(): UpstreamWaiter | undefined {
    const w = this.#waiter
    this.#waiter = undefined
    return w
  }
}

/** How a relayed answer ended; exactly one is called, once. */
export interface RelayEnds {
  /**
   * sees each chunk right after it was handed to the client socket (undefined: nobody looks).
   * Nothing the client sends next is read before it returns, so what it learns is in place for
   * the next request; it runs after the write to keep it off the answer's path.
   */
  peek: ((chunk: Buffer) => void) | undefined
  /** the answer passed whole; `bytes` of body */
  end(bytes: number): void
  /** the backend broke off mid-answer: the client connection has been destroyed */
  broken(err: Error, bytes: number): void
  /** the client left before the answer ended: the backend request has been dropped */
  gone(bytes: number): void
}

/**
 * Stream `up`'s answer to the client: status and `headers` first, then the body chunk by chunk,
 * back-pressure both ways (a full client socket pauses the backend connection).
 */
export function relay(
  ex: HttpExchange,
  up: Upstream,
  headers: OutgoingHttpHeaders | HeaderLines,
  ends: RelayEnds,
): void {
  if (ex.destroyed) {
    up.abort(new Error('the client left before its answer'))
    ends.gone(0)
    return
  }
  ex.writeHead(up.statusCode, headers, up.statusMessage || undefined)
  const r = new Relay(ex, up, ends)
  ex.watcher = r
  up.pipe(r)
}

/** One relayed answer: the backend side's sink and the client side's watcher in one object. */
class Relay implements UpstreamSink, ExchangeWatcher {
  readonly #ex: HttpExchange
  readonly #up: Upstream
  readonly #ends: RelayEnds
  #bytes = 0
  #done = false

  constructor(ex: HttpExchange, up: Upstream, ends: RelayEnds) {
    this.#ex = ex
    this.#up = up
    this.#ends = ends
  }

  data(chunk: Buffer): boolean {
    this.#bytes += chunk.length
    const ok = this.#ex.write(chunk)
    this.#ends.peek?.(chunk)
    return ok
  }

  end(): void {
    this.#done = true
    this.#ex.watcher = undefined
    this.#ex.end()
    this.#ends.end(this.#bytes)
  }

  error(err: Error): void {
    this.#done = true
    this.#ex.watcher = undefined
    this.#ex.destroy()
    this.#ends.broken(err, this.#bytes)
  }

  drained(): void {
    this.#up.resume()
  }

  closed(): void {
    if (this.#done) return
    this.#done = true
    this.#up.abort(new Error('the client left during its answer'))
    this.#ends.gone(this.#bytes)
  }
}
