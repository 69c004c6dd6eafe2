/**
 * Deadlines of HTTP requests waiting for their response headers (the stall timer, see
 * upstream.ts), checked by one interval per clock instead of a timer per request: a setTimeout and
 * clearTimeout per call were a measurable part of an HTTP route's cost.
 *
 * Contract: a deadline never fires early, and at most a quarter of its time (50 ms to 1 s) late;
 * `unwatch` before it fired means it never fires. The interval is unref'd, runs only while
 * something is watched, and `stop()` ends it for good.
 */
export interface Watched {
  /** the deadline passed */
  expired(): void
}

export class StallClock {
  readonly #deadlines = new Map<Watched, number>()
  readonly #now: () => number
  #timer: NodeJS.Timeout | undefined
  #tickMs = 0
  #stopped = false

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** `w.expired()` once `ms` have passed, unless unwatched first. */
  watch(w: Watched, ms: number): void {
    if (this.#stopped) return
    this.#deadlines.set(w, this.#now() + ms)
    const tick = Math.max(50, Math.min(1_000, Math.floor(ms / 4)))
    if (this.#timer !== undefined && tick >= this.#tickMs) return
    clearInterval(this.#timer)
    this.#tickMs = tick
    this.#timer = setInterval(() => this.#check(), tick)
    this.#timer.unref()
  }

  unwatch(w: Watched): void {
    this.#deadlines.delete(w)
  }

  get watching(): number {
    return this.#deadlines.size
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#deadlines.clear()
  }

  #check(): void {
    if (this.#deadlines.size === 0) {
      // idle: the next watch starts it again
      clearInterval(this.#timer)
      this.#timer = undefined
      return
    }
    const now = this.#now()
    const due: Watched[] = []
    for (const [w, at] of this.#deadlines) if (at <= now) due.push(w)
    for (const w of due) {
      this.#deadlines.delete(w)
      w.expired()
    }
  }
}
