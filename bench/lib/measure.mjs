// Taking one measurement on a shared machine: wait until the rest of the machine is quiet, take
// CPU snapshots (/proc/<pid>/stat utime+stime of the processes watched, /proc/stat for the machine)
// around it, and repeat it when other processes used the CPU meanwhile (perf-baseline.md §1), or
// the hypervisor took it away (steal time: on this VM it comes in bursts of up to 40 % of a CPU,
// which move a round-trip p50 by tens of µs and which no process list shows).
import { setTimeout as sleep } from 'node:timers/promises'
import { TICK, machineCpuSec, procStat } from './procs.mjs'

export class Meter {
  /**
   * @param ours  () => pids of every long-lived process of the benchmark (backends, proxies, ...)
   * @param opts  quietCores: other processes' CPU plus steal (cores) counted as quiet; gateBudgetMs: total time
   *              the whole run may spend waiting for quiet; retries: repeats of a noisy measurement
   */
  constructor(
    ours,
    { quietCores = 0.05, gateBudgetMs = 120_000, maxWaitMs = 10_000, retries = 2 } = {},
  ) {
    this.ours = ours
    this.quietCores = quietCores
    this.gateBudgetMs = gateBudgetMs
    this.maxWaitMs = maxWaitMs
    this.retries = retries
    this.waitedMs = 0
    this.noisy = 0
    this.measurements = 0
  }

  snapshot() {
    const pids = new Map()
    for (const pid of this.ours()) {
      const s = procStat(pid)
      if (s !== undefined) pids.set(pid, s)
    }
    const self = procStat(process.pid)
    return { t: performance.now(), ...machineCpuSec(), self, pids }
  }

  /** CPU of each watched process between two snapshots, and what the rest of the machine used. */
  diff(a, b) {
    const per = new Map()
    let ours = 0
    for (const [pid, s1] of b.pids) {
      const s0 = a.pids.get(pid) ?? { utime: 0, stime: 0, minflt: 0 }
      const d = {
        user: (s1.utime - s0.utime) / TICK,
        sys: (s1.stime - s0.stime) / TICK,
        minflt: s1.minflt - s0.minflt,
      }
      d.cpu = d.user + d.sys
      per.set(pid, d)
      ours += d.cpu
    }
    const sf = (s) => s.utime + s.stime + s.cutime + s.cstime
    ours += (sf(b.self) - sf(a.self)) / TICK // the orchestrator and its reaped clients
    const busy = b.busy - a.busy
    const others = Math.max(0, busy - ours)
    const steal = b.steal - a.steal
    return { per, elapsed: (b.t - a.t) / 1000, busy, others, steal, disturbance: others + steal }
  }

  /** Wait (bounded) until other processes and steal take at most `quietCores` for a 300 ms window. */
  async quiet() {
    const t0 = performance.now()
    const limit = Math.min(this.maxWaitMs, this.gateBudgetMs - this.waitedMs)
    while (performance.now() - t0 < limit) {
      const a = this.snapshot()
      await sleep(300)
      const d = this.diff(a, this.snapshot())
      if (d.disturbance <= this.quietCores * d.elapsed) break
    }
    this.waitedMs += performance.now() - t0
  }

  /** Allowed CPU of other processes plus steal during a measurement of `elapsed` s (0.04 CPU-s per second, at least 0.04). */
  static limit(elapsed) {
    return 0.04 * Math.max(1, elapsed)
  }

  /**
   * Run `fn` (which must be repeatable) between snapshots. A run during which other processes and
   * steal took more than Meter.limit is repeated up to `retries` times; the quietest one is kept.
   * Resolves { res, per, elapsed, others, steal, disturbance, noisy }.
   */
  async measure(fn) {
    let best
    for (let i = 0; i <= this.retries; i++) {
      await this.quiet()
      const a = this.snapshot()
      const res = await fn()
      const d = this.diff(a, this.snapshot())
      const m = { res, ...d, noisy: d.disturbance > Meter.limit(d.elapsed) }
      if (best === undefined || m.disturbance < best.disturbance) best = m
      if (!m.noisy) break
    }
    this.measurements++
    if (best.noisy) this.noisy++
    return best
  }
}
