/**
 * One request to one backend over undici's `dispatch` handler API. Per call it costs less than
 * `pool.request()`: no body stream, no AbortSignal and its listeners, one promise (the headers)
 * instead of one per step. The HTTP routes forward small Thrift calls by the thousand per second,
 * so that difference is a good part of what the proxy adds to each call (docs/benchmarks.md).
 *
 * Contract:
 * - `start()` (its promise is also `response`) resolves with this Upstream once the response
 *   headers arrived, with `statusCode` and `headers` set, and rejects when the request failed
 *   before them (a connect error, a closed socket, the stall timer below);
 * - body chunks that arrive before `pipe()` are kept, in order (undici may hand over the headers
 *   and the first chunk in one parse), and given to the sink when it is attached;
 * - a sink's `data` returning false pauses the backend connection until `resume()`;
 * - `abort()` ends the exchange from the client's side (the connection to the backend is closed
 *   by undici); the sink hears nothing after it;
 * - stall timer: when the response headers did not arrive `stall.ms` after `start()`, `onStall`
 *   builds the error, the request is aborted and `headers` rejects with that error. If undici
 *   had not yet put the request on a socket, it is aborted when it does, before any byte is
 *   written.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'

export interface UpstreamSink {
  /** false: stop reading the backend until `resume()` */
  data(chunk: Buffer): boolean
  end(): void
  error(err: Error): void
}

export class Upstream implements Dispatcher.DispatchHandler {
  statusCode = 0
  headers: IncomingHttpHeaders = {}
  readonly response: Promise<Upstream>
  #resolve!: (u: Upstream) => void
  #reject!: (err: unknown) => void
  #settled = false
  #controller: Dispatcher.DispatchController | undefined
  #timer: NodeJS.Timeout | undefined
  /** the error that ended the exchange before the caller heard of it (stall, abort) */
  #cut: Error | undefined
  #sink: UpstreamSink | undefined
  #early: Buffer[] | undefined
  #ended = false
  #failed: Error | undefined

  constructor() {
    this.response = new Promise<Upstream>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  /** Send `opts` through `dispatcher`; with `stall` (and `stall.ms` > 0), under the stall timer. */
  start(
    dispatcher: Dispatcher,
    opts: Dispatcher.DispatchOptions,
    stall?: { ms: number; onStall: () => Error },
  ): Promise<Upstream> {
    if (stall !== undefined && stall.ms > 0) {
      const onStall = stall.onStall
      this.#timer = setTimeout(() => this.#cutOff(onStall()), stall.ms)
    }
    dispatcher.dispatch(opts, this)
    return this.response
  }

  /** Attach where the body goes; chunks kept until now are given at once. */
  pipe(sink: UpstreamSink): void {
    this.#sink = sink
    const early = this.#early
    this.#early = undefined
    if (early !== undefined) for (const c of early) if (!sink.data(c)) this.#controller?.pause()
    if (this.#failed !== undefined) sink.error(this.#failed)
    else if (this.#ended) sink.end()
  }

  resume(): void {
    this.#controller?.resume()
  }

  /** The client is gone: drop the exchange (undici closes the backend connection). */
  abort(reason: Error): void {
    this.#sink = undefined
    this.#cutOff(reason)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#cut !== undefined) controller.abort(this.#cut)
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    clearTimeout(this.#timer)
    this.statusCode = statusCode
    this.headers = headers
    this.#settled = true
    this.#resolve(this)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const sink = this.#sink
    if (sink !== undefined) {
      if (!sink.data(chunk)) controller.pause()
    } else if (this.#cut === undefined) {
      if (this.#early === undefined) this.#early = [chunk]
      else this.#early.push(chunk)
    }
  }

  onResponseEnd(): void {
    const sink = this.#sink
    this.#sink = undefined
    if (sink === undefined) this.#ended = true
    else sink.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    clearTimeout(this.#timer)
    if (!this.#settled) {
      this.#settled = true
      this.#reject(this.#cut ?? err)
      return
    }
    const sink = this.#sink
    this.#sink = undefined
    if (sink !== undefined) sink.error(err)
    else if (this.#cut === undefined) this.#failed = err
  }

  #cutOff(err: Error): void {
    clearTimeout(this.#timer)
    if (this.#cut !== undefined) return
    this.#cut = err
    this.#early = undefined
    if (this.#controller !== undefined) this.#controller.abort(err)
    else if (!this.#settled) {
      // not on a socket yet: the caller hears now; onRequestStart aborts before a byte is written
      this.#settled = true
      this.#reject(err)
    }
  }
}

/** How a relayed answer ended; exactly one is called, once. */
export interface RelayEnds {
  /** sees each chunk before it is written to the client; undefined: nobody looks */
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
  res: ServerResponse,
  up: Upstream,
  headers: OutgoingHttpHeaders,
  ends: RelayEnds,
): void {
  let bytes = 0
  if (res.destroyed) {
    up.abort(new Error('the client left before its answer'))
    ends.gone(0)
    return
  }
  res.writeHead(up.statusCode, headers)
  const onDrain = (): void => up.resume()
  const onClose = (): void => {
    if (res.writableFinished) return
    res.off('drain', onDrain)
    up.abort(new Error('the client left during its answer'))
    ends.gone(bytes)
  }
  res.on('drain', onDrain)
  res.once('close', onClose)
  const peek = ends.peek
  up.pipe({
    data: (chunk) => {
      bytes += chunk.length
      if (peek !== undefined) peek(chunk)
      return res.write(chunk)
    },
    end: () => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      res.end()
      ends.end(bytes)
    },
    error: (err) => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      res.destroy()
      ends.broken(err, bytes)
    },
  })
}
