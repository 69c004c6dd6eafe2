/**
 * How many bytes the sockets of one backend's connection pool have ever read, for one question
 * of the stall rule (docs/http-routes.md): did any byte of a stalled request's answer arrive?
 *
 * undici does not tell which socket carries a request, so the answer is per pool and errs on the
 * safe side: a request saw "no byte" only if no socket of its backend read a byte between its
 * dispatch and its stall. Answers of other requests in flight to the same backend therefore make
 * the stalled one count as "heard from" (it is not re-sent), never the other way round. A hung
 * server sends nothing on any socket, which is the case the rule is for.
 *
 * `total()` is monotonic: a socket's count moves to `closed` when it closes.
 */
import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'

export class ReadMeter {
  #closed = 0
  readonly #live = new Set<Socket>()

  /** Count `socket`'s reads from now until it closes (its earlier reads too: it is new). */
  add(socket: Socket): void {
    this.#live.add(socket)
    socket.once('close', () => {
      this.#live.delete(socket)
      this.#closed += socket.bytesRead
    })
  }

  /** Bytes read by every socket added so far. */
  total(): number {
    let n = this.#closed
    for (const s of this.#live) n += s.bytesRead
    return n
  }
}

/** `connect` with every socket it makes counted by `meter`. */
export function meteredConnector(
  connect: buildConnector.connector,
  meter: ReadMeter,
): buildConnector.connector {
  return (opts, callback) =>
    connect(opts, (...args) => {
      // trap: on an error undici passes no socket at all (undefined), though its types say null
      const socket: Socket | null | undefined = args[1]
      if (socket) meter.add(socket)
      callback(...args)
    })
}
