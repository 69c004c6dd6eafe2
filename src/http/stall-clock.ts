/**
 * Deadlines of HTTP requests waiting for their response headers (the stall timer, see
 * upstream.ts), checked by one interval per clock instead of a timer per request: a setTimeout and
 * clearTimeout per call were a measurable part of an HTTP route's cost.
 *
 * Contract: a deadline never fires early, and at most a quarter of its time (50 ms to 1 s) late;
 * `unwatch` before it fired means it never fires. The interval is unref'd, runs only while
 * something is watched, and `stop()` ends it for good.
 *
 * The watched objects carry their own links (an intrusive list, as Node's timer lists are): a
 * watch and an unwatch per call allocate nothing and hash nothing.
 */
export interface Watched {
  /** the deadline passed */
  expired(): void
  /** @internal the clock's: when it fires (epoch ms), 0 when not watched */
  stallAt: number
  /** @internal the clock's list links */
  stallPrev: Watched | undefined
  stallNext: Watched | undefined
}

export class StallClock {
  #head: Watched | undefined
  #count = 0
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
    if (w.stallAt !== 0) this.unwatch(w)
    w.stallAt = this.#now() + ms
    w.stallPrev = undefined
    w.stallNext = this.#head
    if (this.#head !== undefined) this.#head.stallPrev = w
    this.#head = w
    this.#count++
    const tick = Math.max(50, Math.min(1_000, Math.floor(ms / 4)))
    if (this.#timer !== undefined && tick >= this.#tickMs) return
    clearInterval(this.#timer)
    this.#tickMs = tick
    this.#timer = setInterval(() => this.#check(), tick)
    this.#timer.unref()
  }

  unwatch(w: Watched): void {
    if (w.stallAt === 0) return
    const { stallPrev: prev, stallNext: next } = w
    if (prev === undefined) this.#head = next
    else prev.stallNext = next
    if (next !== undefined) next.stallPrev = prev
    w.stallAt = 0
    w.stallPrev = undefined
    w.stallNext = undefined
    this.#count--
  }

  get watching(): number {
    return this.#count
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#timer = undefined
    while (this.#head !== undefined) this.unwatch(this.#head)
  }

  #check(): void {
    if (this.#head === undefined) {
      // idle: the next watch starts it again
      clearInterval(this.#timer)
      this.#timer = undefined
      return
    }
    const now = this.#now()
    const due: Watched[] = []
    for (let w: Watched | undefined = this.#head; w !== undefined; w = w.stallNext)
      if (w.stallAt <= now) due.push(w)
    for (const w of due) {
      this.unwatch(w)
      w.expired()
    }
  }
}
