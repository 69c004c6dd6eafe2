// Scenario 9: a hung instance (docs/hung-backends.md). Two HS2 binary instances, each an `echo`
// backend in a process of its own, behind a fresh proxy (static list, round-robin,
// firstResponseTimeoutMs 2000). A client opens a connection every `everyMs` (connect, 16 bytes,
// wait for their echo: the "first answer"). At T0 instance A is SIGSTOPped: its kernel still
// accepts connections and takes their bytes, and nothing answers, as with a JVM in a long GC pause.
// Connections the proxy sends there wait out the timeout and move, with their bytes, to B; after
// `ejection.failures` stalls in a row A is ejected and new connections go straight to B.
// Phases by the call's start: "healthy" = ended before T0; "hung, until the ejection" = the rest
// started before the proxy logged `backend ejected`; "after the ejection" = started after it.
// Connect-to-first-answer is each call's end - start; success = the echo came back within 5 s.
// An unmeasured 300 ms of the same calls warms the fresh proxy and both backends up first.
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { start, stop, waitLine } from '../lib/procs.mjs'
import { freePort, startBackend, startProxy } from '../lib/services.mjs'
import { fmt, median, table, target } from '../lib/stats.mjs'

const TIMEOUT_MS = 2000
/** the client gives a call this long: well past the timeout and the replay */
const CLIENT_TIMEOUT_MS = 5000
const EJECTION = { failures: 3, baseMs: 30_000, maxMs: 60_000 }
const wall = () => performance.timeOrigin + performance.now()

function p99(xs) {
  if (xs.length === 0) return NaN
  const a = [...xs].sort((x, y) => x - y)
  return a[Math.min(a.length - 1, Math.floor(0.99 * a.length))]
}

/** wall-clock ms of the first log line matching `re` at or after `t0`, else NaN */
function logTime(proc, re, t0) {
  for (const l of proc.lines) {
    if (!re.test(l)) continue
    try {
      const raw = JSON.parse(l).time // pino: ISO text or epoch ms
      const t = typeof raw === 'number' ? raw : Date.parse(raw)
      if (t >= t0 - 1) return t
    } catch {}
  }
  return NaN
}

function phases(calls, t0, tEject) {
  const stats = (cs) => ({
    n: cs.length,
    ok: cs.filter((c) => c[2] === 1).length,
    p50: median(cs.map((c) => c[1] - c[0])),
    p99: p99(cs.map((c) => c[1] - c[0])),
  })
  const ejected = Number.isFinite(tEject) ? tEject : Number.POSITIVE_INFINITY
  return {
    healthy: stats(calls.filter((c) => c[1] < t0)),
    hung: stats(calls.filter((c) => c[1] >= t0 && c[0] < ejected)),
    after: stats(calls.filter((c) => c[0] >= ejected)),
  }
}

async function once(ctx, rep) {
  const { cfg } = ctx
  const a = await startBackend(ctx.root, `hung-a-${rep}`, [{ kind: 'echo' }])
  const b = await startBackend(ctx.root, `hung-b-${rep}`, [{ kind: 'echo' }])
  const listen = await freePort()
  const px = await startProxy(ctx.root, ctx.dir, `proxy-hung-${rep}`, {
    hs2: [
      {
        name: 'hung',
        url: `jdbc:hive2://127.0.0.1:${a.ports[0]},127.0.0.1:${b.ports[0]}/`,
        listen,
        policy: 'round-robin',
        firstResponseTimeoutMs: TIMEOUT_MS,
        ejection: EJECTION,
      },
    ],
  })
  let stopped = false
  try {
    // unmeasured: the proxy's first connections and both backends warm up
    await ctx.client({ mode: 'probe', port: listen, everyMs: 5, durationMs: 300, timeoutMs: 1000 })
    const durationMs = cfg.hungBeforeMs + cfg.hungAfterMs
    const c = start(`hung-client-${rep}`, process.execPath, [
      join(ctx.root, 'bench/client.mjs'),
      JSON.stringify({
        mode: 'probe',
        port: listen,
        everyMs: cfg.hungEveryMs,
        durationMs,
        timeoutMs: CLIENT_TIMEOUT_MS,
      }),
    ])
    await waitLine(c, /"started"/, 20_000, 'client start')
    await sleep(cfg.hungBeforeMs)
    const t0 = wall()
    a.proc.proc.kill('SIGSTOP')
    stopped = true
    const line = await waitLine(c, /"calls"|"error"/, durationMs + 60_000, 'client result')
    await stop(c)
    const r = JSON.parse(line)
    if (r.error) throw new Error(`hung client: ${r.error}`)
    const tEject = logTime(px.proc, /"msg":"backend ejected"/, t0)
    return { ...phases(r.calls, t0, tEject), ejectedAfterMs: tEject - t0 }
  } finally {
    // a stopped process handles no SIGTERM: let it run again first
    if (stopped) a.proc.proc.kill('SIGCONT')
    await Promise.all([stop(a.proc), stop(b.proc), stop(px.proc)])
  }
}

export async function hung(ctx) {
  const runs = []
  for (let r = 0; r < ctx.reps; r++) {
    runs.push(await once(ctx, r))
    const x = runs.at(-1)
    ctx.progress(
      `hung instance: ejected after ${fmt(x.ejectedAfterMs)} ms; p99 ${fmt(x.healthy.p99, 1)} / ${fmt(x.hung.p99, 1)} / ${fmt(x.after.p99, 1)} ms`,
    )
  }
  const sum = (ph, k) => runs.reduce((s, x) => s + x[ph][k], 0)
  const med = (ph, k) => median(runs.map((x) => x[ph][k]))
  const names = {
    healthy: 'healthy (ended before T0)',
    hung: 'A hung, until its ejection',
    after: 'after the ejection',
  }
  const rows = Object.entries(names).map(([ph, name]) => [
    name,
    `${fmt(sum(ph, 'ok'))} / ${fmt(sum(ph, 'n'))}`,
    fmt((100 * sum(ph, 'ok')) / sum(ph, 'n'), 1),
    fmt(med(ph, 'p50'), 1),
    fmt(med(ph, 'p99'), 1),
    runs.map((x) => fmt(x[ph].p99, 1)).join(' / '),
  ])
  const okAll = ['healthy', 'hung', 'after'].every((ph) => sum(ph, 'ok') === sum(ph, 'n'))
  const hungP99 = med('hung', 'p99')
  const healthyP99 = med('healthy', 'p99')
  const afterP99 = med('after', 'p99')
  // "back to the healthy figure", with room for the noise of a p99 over a few hundred calls
  const backLimit = Math.max(healthyP99 * 1.5, healthyP99 + 2)
  return {
    id: 9,
    title: `Hung instance: 2 HS2 instances, one SIGSTOPped, firstResponseTimeoutMs ${TIMEOUT_MS} (${ctx.reps} run${ctx.reps > 1 ? 's' : ''}, a fresh proxy per run)`,
    table: table(
      [
        'phase',
        'connections answered / started',
        'success %',
        'p50 connect-to-first-answer ms',
        'p99 ms (median of runs)',
        'p99 each run',
      ],
      rows,
    ),
    notes: [
      `one connection every ${ctx.cfg.hungEveryMs} ms (connect, 16 bytes, their echo) after a 300 ms warm-up, ${ctx.cfg.hungBeforeMs} ms before T0 and ${ctx.cfg.hungAfterMs} ms after; round-robin; ejection after ${EJECTION.failures} stalls (${EJECTION.baseMs} ms). The proxy logged the ejection ${runs.map((x) => fmt(x.ejectedAfterMs)).join(' / ')} ms after T0 (the first stall is seen one timeout after T0). Unpinned.`,
    ],
    ratios: [],
    targets: [
      target(
        'hung instance: connections that got their first answer',
        `${fmt(sum('healthy', 'ok') + sum('hung', 'ok') + sum('after', 'ok'))} of ${fmt(sum('healthy', 'n') + sum('hung', 'n') + sum('after', 'n'))}`,
        '100 %',
        okAll,
      ),
      target(
        'hung instance: p99 connect-to-first-answer until the ejection',
        `${fmt(hungP99, 1)} ms`,
        `≤ ${TIMEOUT_MS + 50} ms (timeout + 50 ms)`,
        hungP99 <= TIMEOUT_MS + 50,
      ),
      target(
        'hung instance: p99 after the ejection vs healthy',
        `${fmt(afterP99, 1)} ms vs ${fmt(healthyP99, 1)} ms`,
        'back to the healthy figure (≤ 1.5× or + 2 ms)',
        afterP99 <= backLimit,
      ),
    ],
    runs,
  }
}
