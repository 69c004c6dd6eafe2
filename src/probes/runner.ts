/**
 * Runs the active probes of one route (docs/hung-backends.md): one prober per backend, one probe
 * at a time, started at a fixed rate (every `intervalMs` from the previous start, so a hung backend
 * is seen within intervalMs x failures + timeoutMs). The runner owns the timeout: a probe with no
 * answer within `timeoutMs` fails and its prober is closed (it drops its connection and reconnects
 * on the next probe). Any other failure leaves the connection to the prober (a metastore that
 * answers STOPPED is still on a good connection). What a result means (down/up) is the route's business (backends/probe-health.ts).
 *
 * Clock and timers are injectable; timers are unref'd by default (probes never keep the process up).
 */
import type { BackendInfo, ProbeResult } from '../backends/backend.js'
import { errorMessage } from '../errors.js'

/** One backend's probe. Keeps what it may (a connection) between probes. */
export interface Prober {
  /** one probe: resolves with what the answer said when healthy, rejects when not */
  probe(): Promise<string | undefined>
  /** drop what it keeps; the next probe starts afresh. Idempotent. */
  close(): void
}

export interface ProbeTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realTimers: ProbeTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface ProbeRunnerDeps {
  /** epoch ms */
  now: () => number
  timers: ProbeTimers
  /** the prober of one backend, or undefined when this backend gets no probe (now) */
  proberFor: (b: BackendInfo) => Prober | undefined
  onResult: (key: string, result: ProbeResult) => void
}

export interface ProbeSchedule {
  intervalMs: number
  timeoutMs: number
}

interface Target {
  backend: BackendInfo
  prober: Prober
  timer: unknown
  inFlight: boolean
  /** bumped on every start and on close: a late settle of an older probe is ignored */
  gen: number
}

export class ProbeRunner {
  readonly #deps: ProbeRunnerDeps
  #schedule: ProbeSchedule
  readonly #targets = new Map<string, Target>()
  #list: readonly BackendInfo[] = []
  #running = false

  constructor(schedule: ProbeSchedule, deps: ProbeRunnerDeps) {
    this.#schedule = schedule
    this.#deps = deps
  }

  /** Backends probed now. */
  get size(): number {
    return this.#targets.size
  }

  start(): void {
    this.#running = true
    this.sync(this.#list)
  }

  /** New interval or timeout: taken from each backend's next probe on. */
  configure(schedule: ProbeSchedule): void {
    this.#schedule = schedule
  }

  /**
   * The backends to probe (the route's listed ones). New ones get a prober and a first probe at
   * once; gone ones are closed. Kept ones keep their prober (and its connection).
   */
  sync(list: readonly BackendInfo[]): void {
    this.#list = list
    if (!this.#running) return
    const keep = new Set(list.map((b) => b.key))
    for (const [key, t] of this.#targets) if (!keep.has(key)) this.#drop(key, t)
    for (const b of list) {
      if (this.#targets.has(b.key)) continue
      const prober = this.#deps.proberFor(b)
      if (prober === undefined) continue
      const t: Target = { backend: b, prober, timer: undefined, inFlight: false, gen: 0 }
      this.#targets.set(b.key, t)
      this.#at(t, 0)
    }
  }

  /**
   * New probers for `keys` (discovery changed what they are: path, TLS), from the next sync on.
   * Their results so far stay with the route: a backend held down stays down.
   */
  renew(keys: readonly string[]): void {
    for (const key of keys) {
      const t = this.#targets.get(key)
      if (t !== undefined) this.#drop(key, t)
    }
  }

  /** Drop every prober and ask `proberFor` again (the probe kind changed, or was just learned). */
  refresh(): void {
    for (const [key, t] of this.#targets) this.#drop(key, t)
    this.sync(this.#list)
  }

  stop(): void {
    this.#running = false
    for (const [key, t] of this.#targets) this.#drop(key, t)
  }

  #drop(key: string, t: Target): void {
    this.#deps.timers.clearTimeout(t.timer)
    t.gen++
    t.prober.close()
    this.#targets.delete(key)
  }

  #at(t: Target, ms: number): void {
    t.timer = this.#deps.timers.setTimeout(() => this.#run(t), ms)
  }

  #run(t: Target): void {
    const { intervalMs, timeoutMs } = this.#schedule
    // fixed rate: the next start is one interval after this one, whatever this one takes
    this.#at(t, intervalMs)
    // timeoutMs < intervalMs (config), so this only happens with a clock that jumps
    if (t.inFlight) return
    const { now, timers, onResult } = this.#deps
    const gen = ++t.gen
    const start = now()
    t.inFlight = true
    const finish = (ok: boolean, detail: string | undefined, timedOut = false): void => {
      if (t.gen !== gen) return
      t.gen++
      t.inFlight = false
      timers.clearTimeout(guard)
      // the answer may still come on that connection: it is dropped, the next probe reconnects
      // (a prober that got a bad answer keeps or drops its connection itself)
      if (timedOut) t.prober.close()
      const at = now()
      onResult(t.backend.key, { ok, at, ms: at - start, detail })
    }
    const guard = timers.setTimeout(
      () => finish(false, `no answer within ${timeoutMs} ms`, true),
      timeoutMs,
    )
    let p: Promise<string | undefined>
    try {
      p = t.prober.probe()
    } catch (err) {
      p = Promise.reject(err)
    }
    p.then(
      (detail) => finish(true, detail),
      (err: unknown) => finish(false, errorMessage(err)),
    )
  }
}
