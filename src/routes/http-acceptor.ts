/**
 * The acceptor of an HTTP route (HS2 or metastore): one WireFront per listener, with the route's
 * header timeout, keep-alive limit and Thrift POST rules. `front.current` is the live front, which
 * the route cuts with `closeAll()` at the end of its stop grace; `rules.current` is read per
 * request, so a reload that changes the path or the body limit takes effect at once.
 */
import {
  type HttpExchange,
  MAX_HEADER_BYTES,
  type ThriftPostRules,
  WireFront,
} from '../http/wire/front.js'
import type { Logger } from '../logger.js'
import type { AcceptorFactory } from './route-core.js'

export interface HttpAcceptor {
  acceptor: AcceptorFactory<HttpExchange>
  front: { current: WireFront | undefined }
  rules: { current: ThriftPostRules }
}

export function httpAcceptor(
  http: { headersTimeoutMs: number; keepAliveTimeoutMs: number },
  rules: ThriftPostRules,
  logger: Logger,
): HttpAcceptor {
  const front: HttpAcceptor['front'] = { current: undefined }
  const box: HttpAcceptor['rules'] = { current: rules }
  const acceptor: AcceptorFactory<HttpExchange> = (listen, accept, acceptError, secure) => {
    const f = new WireFront(
      {
        tls: secure,
        listen,
        headersTimeoutMs: http.headersTimeoutMs,
        keepAliveTimeoutMs: http.keepAliveTimeoutMs,
        maxHeaderBytes: MAX_HEADER_BYTES,
        rules: () => box.current,
        logger,
      },
      accept,
      acceptError,
    )
    front.current = f
    return f
  }
  return { acceptor, front, rules: box }
}
