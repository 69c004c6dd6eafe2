/**
 * The runtime pieces of TLS (design decision 13): the server options of a TLS front, the client
 * options of a TLS backend connection, and which connect failures a certificate caused.
 *
 * Contracts:
 * - a front's certificate is checked by clients for the name they dial; with `clientCa` a client
 *   without a certificate from that CA never completes the handshake;
 * - a backend is checked against `ca` (or the system store) and its own host name (or the
 *   `serverName` override), which is also sent as SNI, except for IP addresses (SNI carries names
 *   only; the certificate is then checked for the IP);
 * - nothing here turns verification off unless `insecureSkipVerify` says so.
 * Trap: node:tls is loaded on first use (a `lazy` require), so a proxy without TLS never loads it.
 */
import { isIP } from 'node:net'
import type tls from 'node:tls'
import type { BackendTlsConfig, FrontTlsConfig } from '../config/types.js'
import { errorCode } from '../errors.js'
import { lazy } from '../lazy.js'

export const tlsLib = lazy<typeof tls>('node:tls')

/** A TLS client that has not finished its handshake by then is cut. */
export const FRONT_HANDSHAKE_TIMEOUT_MS = 30_000

/** Options of a TLS front: for tls.createServer and, on reload, server.setSecureContext. */
export function frontOptions(cfg: FrontTlsConfig): tls.TlsOptions {
  const requireClient = cfg.clientCa !== undefined
  return {
    cert: cfg.cert.pem,
    key: cfg.key.pem,
    minVersion: cfg.minVersion,
    requestCert: requireClient,
    rejectUnauthorized: requireClient,
    ...(cfg.clientCa === undefined ? {} : { ca: cfg.clientCa.pem }),
    handshakeTimeout: FRONT_HANDSHAKE_TIMEOUT_MS,
  }
}

/**
 * Whether a backend is dialled with TLS: never without a `backendTls` block or with mode off;
 * always with mode on; with auto when its registration says `hive.server2.use.SSL=true`.
 */
export function backendUsesTls(
  cfg: BackendTlsConfig | undefined,
  ssl: boolean | undefined,
): boolean {
  if (cfg === undefined) return false
  return cfg.mode === 'on' || (cfg.mode === 'auto' && ssl === true)
}

/** Same backend TLS settings, file contents included (a rotated CA keeps its path). */
export function sameBackendTls(
  a: BackendTlsConfig | undefined,
  b: BackendTlsConfig | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b
  return (
    a.mode === b.mode &&
    a.serverName === b.serverName &&
    a.insecureSkipVerify === b.insecureSkipVerify &&
    a.ca?.pem === b.ca?.pem &&
    a.cert?.pem === b.cert?.pem &&
    a.key?.pem === b.key?.pem
  )
}

/**
 * Per route configuration, the shared part of every backend connection's TLS options: one
 * SecureContext (CA, client certificate), built once, not per connect (parsing a CA bundle per
 * connection would cost milliseconds).
 */
export class BackendTls {
  readonly cfg: BackendTlsConfig
  readonly #context: tls.SecureContext
  /**
   * The latest TLS session each backend (by key) handed out, offered on the next connect to it:
   * a resumed handshake skips the certificate exchange (as haproxy's ssl-reuse does). Sessions
   * live as long as this object: a reload that changes the TLS settings makes a new one, so no
   * session outlives the CA it was checked against.
   */
  readonly #sessions = new Map<string, Buffer>()

  constructor(cfg: BackendTlsConfig) {
    this.cfg = cfg
    this.#context = tlsLib().createSecureContext({
      ...(cfg.ca === undefined ? {} : { ca: cfg.ca.pem }),
      ...(cfg.cert === undefined ? {} : { cert: cfg.cert.pem }),
      ...(cfg.key === undefined ? {} : { key: cfg.key.pem }),
    })
  }

  /** The name a backend's certificate must carry (and SNI, unless it is an IP address). */
  nameFor(host: string): string {
    return this.cfg.serverName ?? host
  }

  /**
   * tls.connect options (host and port excluded) for a backend on `host`; with `key`, the
   * backend's last session is offered for resumption.
   */
  connectOptions(host: string, key?: string): tls.ConnectionOptions {
    const name = this.nameFor(host)
    const opts: tls.ConnectionOptions = {
      secureContext: this.#context,
      rejectUnauthorized: !this.cfg.insecureSkipVerify,
    }
    const session = key === undefined ? undefined : this.#sessions.get(key)
    if (session !== undefined) opts.session = session
    if (isIP(name) === 0) opts.servername = name
    else if (this.cfg.serverName !== undefined) {
      // an IP override: no SNI, and the check is for that IP, not the dialled host
      opts.checkServerIdentity = (_host, cert) => tlsLib().checkServerIdentity(name, cert)
    }
    return opts
  }

  /** Keep `session` (a TLS socket's 'session' event) for the next connect to backend `key`. */
  keepSession(key: string, session: Buffer): void {
    // bounded by the backends a route has ever listed; a huge churn starts over
    if (this.#sessions.size >= MAX_SESSIONS && !this.#sessions.has(key)) this.#sessions.clear()
    this.#sessions.set(key, session)
  }
}

const MAX_SESSIONS = 10_000

/**
 * Error codes of a handshake refused because of a certificate (Node and OpenSSL names): the
 * backend's certificate is expired, for another name, or from an unknown CA; or the peer refused
 * ours.
 */
const CERT_ERRORS: ReadonlySet<string> = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
])

/** The certificate problem behind a connect failure (`err` or its cause), or undefined. */
export function certificateFailure(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 3; depth++) {
    const code = errorCode(e)
    if (CERT_ERRORS.has(code)) return code
    e = e instanceof Error ? e.cause : undefined
  }
  return undefined
}

/** What to do about a certificate failure, for the log line. */
export function certificateFix(code: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return "the backend's certificate is for another name: reissue it for the host the proxy dials (the znode's hive.server2.thrift.bind.host or the configured host), or set backendTls.serverName to the name it carries"
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return "renew the backend's certificate (and check the clocks)"
  if (code.startsWith('ERR_SSL_'))
    return 'the backend refused the proxy: give backendTls.cert and backendTls.key with a certificate it trusts'
  return "set backendTls.ca to the PEM file of the CA that issued the backend's certificate"
}
