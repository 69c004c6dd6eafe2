/**
 * The acceptor of an HTTP route (HS2 or metastore): one HttpFront per listener, with the route's
 * header timeout and keep-alive limits. `front.current` is the live front, which the route cuts
 * with `closeAll()` at the end of its stop grace.
 */
import { HttpFront, MAX_HEADER_BYTES, type HttpExchange } from '../http/front.js'
import type { Logger } from '../logger.js'
import type { AcceptorFactory } from './route-core.js'

export interface HttpAcceptor {
  acceptor: AcceptorFactory<HttpExchange>
  front: { current: HttpFront | undefined }
}

export function httpAcceptor(
  http: { headersTimeoutMs: number; keepAliveTimeoutMs: number },
  logger: Logger,
): HttpAcceptor {
  const front: HttpAcceptor['front'] = { current: undefined }
  const acceptor: AcceptorFactory<HttpExchange> = (listen, accept, _error, secure) => {
    const f = new HttpFront(
      {
        tls: secure,
        listen,
        headersTimeoutMs: http.headersTimeoutMs,
        keepAliveTimeoutMs: http.keepAliveTimeoutMs,
        maxHeaderBytes: MAX_HEADER_BYTES,
        logger,
      },
      accept,
    )
    front.current = f
    return f
  }
  return { acceptor, front }
}
