/**
 * The metastore probe: fb303 `getStatus` over ONE kept connection per backend, in the protocol and
 * framing the route's clients speak (the metastore sees one long-lived client, never a
 * connect/close churn, and logs nothing per call). The connection is opened on the first probe and
 * after a failure only (the runner closes the prober on every failed probe).
 *
 * Healthy: a REPLY with status ALIVE or WARNING, or a TApplicationException (the server's Thrift
 * loop answers; it only does not know fb303). Not healthy: DEAD, STARTING, STOPPING, STOPPED, a
 * broken or unparsable answer, a closed connection.
 */
import type tls from 'node:tls'
import type net from 'node:net'
import type { Dial } from '../net/dial.js'
import { ErrorCodes, ProxyError } from '../errors.js'
import { FB_STATUS, getStatusCall, readGetStatusReply, type WireKind } from '../thrift/fb303.js'
import type { Prober } from './runner.js'

export interface ThriftProbeOptions {
  host: string
  port: number
  key: string
  kind: WireKind
  connectTimeoutMs: number
  dial: Dial
  /** the backend is dialled with TLS (the route's backendTls): the probe is too, checked the same */
  tls?: tls.ConnectionOptions | undefined
  /** a probe connection was opened (for counting) */
  onConnect?: () => void
}

const HEALTHY = new Set([2, 5]) // ALIVE, WARNING

export class ThriftProber implements Prober {
  readonly #o: ThriftProbeOptions
  #sock: net.Socket | undefined
  #connecting: Promise<net.Socket> | undefined
  #buf: Buffer = Buffer.alloc(0)
  #seq = 0
  /** bumped by close(): a connect that finishes after it is discarded, never kept (or leaked) */
  #gen = 0
  #pending: { seqid: number; resolve: (d: string) => void; reject: (e: Error) => void } | undefined

  constructor(o: ThriftProbeOptions) {
    this.#o = o
  }

  async probe(): Promise<string> {
    const sock = this.#sock ?? (await this.#connect())
    this.#seq = (this.#seq + 1) | 0
    const seqid = this.#seq
    return new Promise<string>((resolve, reject) => {
      this.#pending = { seqid, resolve, reject }
      sock.write(getStatusCall(this.#o.kind, seqid))
    })
  }

  close(): void {
    this.#gen++
    this.#connecting = undefined
    this.#fail(this.#error('probe connection closed'))
  }

  #connect(): Promise<net.Socket> {
    const gen = this.#gen
    this.#connecting ??= this.#o
      .dial({
        host: this.#o.host,
        port: this.#o.port,
        key: this.#o.key,
        timeoutMs: this.#o.connectTimeoutMs,
        ...(this.#o.tls === undefined ? {} : { tls: this.#o.tls }),
      })
      .then(
        (sock) => {
          if (gen !== this.#gen) {
            sock.destroy()
            throw this.#error('probe connection closed while connecting')
          }
          this.#connecting = undefined
          this.#sock = sock
          this.#buf = Buffer.alloc(0)
          this.#o.onConnect?.()
          sock.on('data', (chunk: Buffer) => this.#onData(chunk))
          sock.on('error', () => {})
          sock.on('close', () => {
            if (this.#sock === sock)
              this.#fail(this.#error('the metastore closed the probe connection'))
          })
          return sock
        },
        (err: unknown) => {
          if (gen === this.#gen) this.#connecting = undefined
          throw err
        },
      )
    return this.#connecting
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    const r = readGetStatusReply(this.#buf, this.#o.kind)
    if (r.state === 'more') return
    if (r.state === 'bad')
      return this.#fail(this.#error(`unreadable getStatus answer: ${r.reason}`))
    this.#buf = this.#buf.subarray(r.bytes)
    const p = this.#pending
    this.#pending = undefined
    if (p === undefined || p.seqid !== r.seqid)
      return this.#fail(this.#error('an answer nobody asked for on the probe connection'))
    if (r.state === 'exception') return p.resolve(`answers (getStatus: ${r.message})`)
    const name = r.status === undefined ? 'no status' : (FB_STATUS[r.status] ?? String(r.status))
    if (r.status !== undefined && HEALTHY.has(r.status)) p.resolve(name)
    // the server answers but says it is not serving: the connection is fine, the backend is not
    else p.reject(this.#error(`fb303 status ${name}`))
  }

  #error(message: string): ProxyError {
    return new ProxyError(ErrorCodes.PROBE, message, { backend: this.#o.key })
  }

  #fail(err: Error): void {
    const sock = this.#sock
    this.#sock = undefined
    sock?.destroy()
    const p = this.#pending
    this.#pending = undefined
    p?.reject(err)
  }
}
