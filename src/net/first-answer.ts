/**
 * First-answer failover (docs/hung-backends.md), the part both pipes share.
 *
 * Until an HS2 backend sends its first byte, the only server state a client connection has there
 * is a half-done SASL handshake (or, with NOSASL, an OpenSession not yet answered). So a pipe in
 * this mode keeps what the client sent (up to FIRST_ANSWER_KEEP_BYTES) and, when the backend stays
 * silent for `timeoutMs` after the client's first byte reached it, lets go of that backend and
 * hands the kept bytes to its owner, who may attach another backend: `attach` replays them there
 * first. Once the first backend byte arrived, or the client sent more than the bound, or the
 * client sent EOF, the mode is over for that connection and nothing is ever replayed.
 */

/** A handshake is a few hundred bytes (a SASL PLAIN start, a NOSASL OpenSession); past this, give up replay. */
export const FIRST_ANSWER_KEEP_BYTES = 64 * 1024

export interface FirstAnswerOptions {
  /** > 0: how long a backend may stay silent after the client's first byte reached it */
  timeoutMs: number
  /** most client bytes kept for a replay (default FIRST_ANSWER_KEEP_BYTES) */
  keepBytes?: number
  /** the backend's first byte arrived: the mode is over */
  answered(): void
  /**
   * The backend sent nothing in time. The pipe has closed that backend connection (its close is
   * not the pipe's) and paused the client; the owner must now `attach` another backend (the
   * kept bytes are replayed on it) or `destroy` the pipe. `keptBytes` is for logs.
   */
  stalled(keptBytes: number): void
}

/** The kept client bytes and the timer of one connection; owned by a pipe. */
export class FirstAnswerState {
  readonly opts: FirstAnswerOptions
  readonly #limit: number
  /** undefined = gave up (too many bytes, or client EOF): no replay any more */
  kept: Buffer[] | undefined = []
  keptBytes = 0
  #timer: NodeJS.Timeout | undefined
  readonly #onTimeout: () => void

  constructor(opts: FirstAnswerOptions, onTimeout: () => void) {
    this.opts = opts
    this.#limit = opts.keepBytes ?? FIRST_ANSWER_KEEP_BYTES
    this.#onTimeout = onTimeout
  }

  /**
   * Keep a copy of one client chunk and start the timer if it is not running. False when the
   * bound is passed: the caller ends the mode.
   *
   * The chunk itself is not kept: on the handle path it may be a view of a larger read buffer,
   * which a view would pin for as long as the backend stays silent (up to the timeout, per waiting
   * client). A handshake is a few hundred bytes, so an exact copy costs next to nothing.
   */
  keep(chunk: Buffer): boolean {
    if (this.kept === undefined) return false
    this.keptBytes += chunk.length
    if (this.keptBytes > this.#limit) return false
    const copy = Buffer.allocUnsafeSlow(chunk.length)
    chunk.copy(copy)
    this.kept.push(copy)
    this.arm()
    return true
  }

  /** start the timer (after the client's first byte, or after a replay) unless it runs */
  arm(): void {
    if (this.#timer === undefined) this.#timer = setTimeout(this.#fire, this.opts.timeoutMs)
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** end of the mode for this connection */
  done(): void {
    this.disarm()
    this.kept = undefined
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#onTimeout()
  }
}
