// Scenario 10: HiveServer2 over HTTP. Two HTTP-mode HS2 stubs (bench/http-backend.mjs, each with
// its own sessions: a call that reaches the wrong one fails the run). Paths: direct to one stub;
// haproxy `mode http` with the two, sticky by its inserted cookie; hive-ha-proxy with a static
// HTTP route of the two (sticky by the Thrift handles it reads). One client process per repetition
// opens a session per path (keeping the cookies it is given) and times ExecuteStatement and
// FetchResults calls in turn over one keep-alive connection per path, the paths interleaved in
// blocks and pinned as in scenarios 2 and 5. A naive Node HTTP proxy (bench/naive-http-proxy.mjs)
// is the reference path that shows what Node's HTTP stack alone costs, and a raw-socket relay
// with a JavaScript HTTP parser (bench/raw-http-proxy.mjs) what Node costs without that stack. Then memory: a fresh proxy holds N sessions opened
// through it (OpenSession only, never closed); RSS growth per tracked session.
import { join } from 'node:path'
import { rssKiB, start, stop, waitLine } from '../lib/procs.mjs'
import { freePort, startHaproxyHttp, startHttpBackend, startProxy } from '../lib/services.mjs'
import { fmt, median, ratio, table, target } from '../lib/stats.mjs'
import { collectGarbage, inspectorUrl } from '../lib/inspector.mjs'
import { interleavedRep } from './rtt.mjs'
import { setTimeout as sleep } from 'node:timers/promises'

const PATH = 'cliservice'
const ROUTE = 'hs2-http'
/** bench/naive-http-proxy.mjs: Node's floor for an HTTP proxy (node:http + undici, nothing else) */
export const NAIVE_HTTP = 'naive Node HTTP proxy (reference)'
/** bench/raw-http-proxy.mjs: a raw-socket relay with a JavaScript HTTP parser, no node:http or undici */
export const RAW_HTTP = 'raw-socket Node HTTP relay (reference)'
const signed = (v) => `${v >= 0 ? '+' : ''}${fmt(v, 1)}`

async function admin(px, what) {
  if (px.admin === undefined) return undefined
  const r = await fetch(`http://127.0.0.1:${px.admin}/${what}`)
  if (!r.ok) throw new Error(`proxy admin /${what}: HTTP ${r.status}`)
  return what === 'metrics' ? r.text() : r.json()
}

/** Resolves once the proxy's admin API answers /readyz with 200 (it loads after the routes listen). */
async function adminReady(px, ms = 20_000) {
  if (px.admin === undefined) return
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${px.admin}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return
    if (Date.now() > deadline) throw new Error(`proxy admin API not ready after ${ms} ms`)
    await sleep(20)
  }
}

/** The HTTP route's affinity counters from /routes ({ byHandle, byCookie, unknownHandle, tracked, ... }). */
async function affinity(px) {
  const s = await admin(px, 'routes')
  return s?.routes.find((r) => r.name === ROUTE)?.http?.affinity
}

/** V8 heap in use (bytes) from the proxy's /metrics, or NaN. */
async function heapUsed(px) {
  const m = /nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)/.exec(
    (await admin(px, 'metrics')) ?? '',
  )
  return m ? Number(m[1]) : NaN
}

export async function http(ctx) {
  const { cfg } = ctx
  const nSessions = ctx.quick ? 1000 : 10_000
  // --quick: a short smoke run (the calls are the slow part: about 1,000 per second per path here)
  const calls = ctx.quick ? Math.min(cfg.calls, 1000) : cfg.calls
  const out = {
    id: 10,
    title: `HiveServer2 over HTTP: ExecuteStatement and FetchResults calls (~1 KiB answers), ${fmt(calls)} timed per path, one keep-alive connection and session per path, paths interleaved in blocks of ${fmt(cfg.rttBlock)}`,
    tables: [],
    targets: [],
    ratios: [],
    notes: [],
    runs: {},
  }
  const be = await startHttpBackend(ctx.root, 'http-backend', 2, PATH)
  const owned = [be.proc]
  const url = `jdbc:hive2://127.0.0.1:${be.ports[0]},127.0.0.1:${be.ports[1]}/;transportMode=http;httpPath=${PATH}`
  const route = async () => ({ hs2: [{ name: ROUTE, url, listen: await freePort() }] })
  let release = () => {}
  try {
    let ha
    if (ctx.haproxyBin) {
      const port = await freePort()
      const proc = await startHaproxyHttp(ctx.haproxyBin, ctx.dir, 'haproxy-http', {
        port,
        servers: be.ports,
      })
      owned.push(proc)
      ha = { proc, port }
    }
    // the reference proxies: bench/<name>.mjs, each printing its port once listening
    const reference = async (name) => {
      const proc = start(
        name,
        process.execPath,
        [join(ctx.root, `bench/${name}.mjs`), JSON.stringify({ servers: be.ports })],
        { ulimit: true },
      )
      owned.push(proc)
      const line = await waitLine(proc, /^\{"ports"/, 10_000, 'ports line')
      return { pid: proc.pid, port: JSON.parse(line).ports[0] }
    }
    const nv = await reference('naive-http-proxy')
    const rw = await reference('raw-http-proxy')
    const px = await startProxy(ctx.root, ctx.dir, 'proxy-http', await route())
    owned.push(px.proc)
    await adminReady(px)
    release = ctx.addServers(owned)
    const configs = [
      { name: 'direct', port: be.ports[0] },
      ha && { name: 'haproxy', port: ha.port, pid: ha.proc.pid },
      { name: 'hive-ha-proxy', port: px.ports[ROUTE], pid: px.proc.pid },
      { name: NAIVE_HTTP, ...nv },
      { name: RAW_HTTP, ...rw },
    ].filter(Boolean)

    const aff0 = await affinity(px)
    for (const layout of ctx.layouts) {
      await ctx.pinServers(layout.servers)
      const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
      for (let r = 0; r < ctx.reps; r++) {
        const rep = await interleavedRep(
          ctx,
          { mode: 'hs2-http', path: PATH, warmup: cfg.callWarmup, count: calls },
          configs,
          r,
          layout.client,
        )
        const direct = rep.direct.path.us
        for (const c of configs) {
          const { path: x, cpuUs, noisy } = rep[c.name]
          // one keep-alive connection per path is the premise of the numbers
          if (x.connects !== 1)
            throw new Error(`${c.name}: the client needed ${x.connects} connections, not 1`)
          runs[c.name].push({
            rate: x.count / (x.ms / 1000),
            ...x.us,
            addP50: x.us.p50 - direct.p50,
            addP99: x.us.p99 - direct.p99,
            cpuUs,
            noisy,
          })
        }
        ctx.progress(
          `hs2 http ${layout.name} rep ${r + 1}: ${configs.map((c) => `${c.name} ${fmt(runs[c.name].at(-1).rate)}/s p50 ${fmt(runs[c.name].at(-1).p50, 1)} µs`).join(', ')}`,
        )
      }
      await ctx.pinServers(ctx.allCpus)
      const med = (name, k) => median(runs[name].map((x) => x[k]))
      const HA = ha ? 'haproxy' : undefined
      const rows = configs.map((c) => [
        c.name,
        fmt(med(c.name, 'rate')),
        HA ? fmt(ratio(med(c.name, 'rate'), med(HA, 'rate')), 2) : '–',
        fmt(med(c.name, 'p50'), 1),
        fmt(med(c.name, 'p99'), 1),
        c.name === 'direct' ? '0' : signed(med(c.name, 'addP50')),
        c.name === 'direct' ? '0' : signed(med(c.name, 'addP99')),
        c.pid ? fmt(med(c.name, 'cpuUs'), 1) : '–',
        `${runs[c.name].filter((x) => x.noisy).length}/${runs[c.name].length}`,
      ])
      out.tables.push(
        `${layout.name} (${layout.text})\n\n${table(['path', 'calls/s', '× haproxy', 'p50 µs', 'p99 µs', 'added p50 µs', 'added p99 µs', 'CPU µs per call of the middle process', 'noisy reps'], rows)}`,
      )
      const q = HA ? ratio(med('hive-ha-proxy', 'rate'), med(HA, 'rate')) : NaN
      const pxA = med('hive-ha-proxy', 'addP50')
      const haA = HA ? med(HA, 'addP50') : NaN
      out.ratios.push(
        `${layout.name}: calls/s proxy/haproxy ${fmt(q, 2)}, added p50 proxy/haproxy ${fmt(ratio(pxA, haA), 2)}, p50 proxy/direct ${fmt(ratio(med('hive-ha-proxy', 'p50'), med('direct', 'p50')), 2)}`,
      )
      const nvA = med(NAIVE_HTTP, 'addP50')
      out.ratios.push(
        `${layout.name}: added p50 proxy/naive Node HTTP proxy ${fmt(ratio(pxA, nvA), 2)}, calls/s proxy/naive ${fmt(ratio(med('hive-ha-proxy', 'rate'), med(NAIVE_HTTP, 'rate')), 2)}, naive Node HTTP proxy/haproxy calls/s ${fmt(ratio(med(NAIVE_HTTP, 'rate'), HA ? med(HA, 'rate') : NaN), 2)}`,
        `${layout.name}: raw-socket Node HTTP relay/haproxy calls/s ${fmt(ratio(med(RAW_HTTP, 'rate'), HA ? med(HA, 'rate') : NaN), 2)}, its added p50/haproxy's ${fmt(ratio(med(RAW_HTTP, 'addP50'), haA), 2)}`,
      )
      out.targets.push(
        target(
          `HTTP calls/s vs haproxy mode http (${layout.name})`,
          `${fmt(q, 2)}×`,
          '≥ 0.8× haproxy',
          HA ? q >= 0.8 : undefined,
        ),
        target(
          `HTTP added p50 vs haproxy's (${layout.name})`,
          `${signed(pxA)} µs vs ${signed(haA)} µs = ${fmt(ratio(pxA, haA), 2)}×`,
          "≤ 1.5× haproxy's added p50",
          HA ? pxA <= 1.5 * haA : undefined,
        ),
      )
      out.runs[`calls ${layout.name}`] = runs
    }
    const aff1 = await affinity(px)
    if (aff0 !== undefined && aff1 !== undefined) {
      const byHandle = aff1.byHandle - aff0.byHandle
      out.notes.push(
        `the proxy routed ${fmt(byHandle)} calls by the handle they carry, ${fmt(aff1.byCookie - aff0.byCookie)} by its cookie, ${fmt(aff1.unknownHandle - aff0.unknownHandle)} with a handle unknown to it; the stubs answer a session's call on the wrong instance with an error, and none came`,
      )
      if (byHandle <= 0)
        throw new Error('the proxy routed no call by handle: it did not learn them')
    }

    // memory per tracked session, in a fresh proxy per repetition
    const mem = []
    for (let r = 0; r < ctx.reps; r++) {
      // the inspector lets the bench ask for a full GC before each reading (--inspect in
      // NODE_OPTIONS: the launcher passes no node flags)
      const pm = await startProxy(ctx.root, ctx.dir, `proxy-http-mem-${r}`, {
        ...(await route()),
        env: { ...process.env, NODE_OPTIONS: '--inspect=127.0.0.1:0' },
      })
      try {
        await adminReady(pm)
        const ws = inspectorUrl(pm.proc)
        if (ws === undefined) throw new Error('the memory proxy printed no inspector URL')
        const open = (n, close = false) =>
          ctx.client({ mode: 'hs2-http-sessions', port: pm.ports[ROUTE], path: PATH, n, close })
        // warm-up: as many sessions opened and closed, so the heap has grown to its working size
        const warm = await open(nSessions, true)
        if (warm.errors > 0) throw new Error(`warm-up sessions failed: ${warm.firstError}`)
        await collectGarbage(ws)
        const a0 = await affinity(pm)
        const h0 = await heapUsed(pm)
        const before = rssKiB(pm.proc.pid)
        const got = await open(nSessions)
        if (got.errors > 0 || got.opened !== nSessions)
          throw new Error(
            `opened ${got.opened} of ${nSessions} sessions (${got.errors} errors: ${got.firstError})`,
          )
        await collectGarbage(ws)
        const after = rssKiB(pm.proc.pid)
        const a1 = await affinity(pm)
        const h1 = await heapUsed(pm)
        const tracked = a1 && a0 ? a1.tracked - a0.tracked : NaN
        if (a1 && a0 && tracked !== nSessions)
          throw new Error(`the proxy tracks ${tracked} new sessions, not ${nSessions}`)
        mem.push({
          before,
          after,
          tracked,
          trackedBefore: a0?.tracked ?? NaN,
          perSession: (after - before) / nSessions,
          heapPerSession: (h1 - h0) / 1024 / nSessions,
          openMs: got.ms,
        })
        ctx.progress(
          `hs2 http sessions: ${fmt((after - before) / nSessions, 2)} KiB RSS per tracked session (${fmt(tracked)} tracked)`,
        )
      } finally {
        await stop(pm.proc)
      }
    }
    const mm = (k) => median(mem.map((x) => x[k]))
    out.tables.push(
      `Memory: ${fmt(nSessions)} sessions opened through a fresh proxy (OpenSession only, 50 at a time, never closed), after as many opened and closed; readings after a full GC\n\n${table(
        [
          'path',
          'tracked before (/routes)',
          'sessions added to /routes',
          'RSS before MiB',
          `RSS with ${fmt(nSessions)} more MiB`,
          'KiB RSS per session',
          'KiB V8 heap per session',
          'sessions/s',
        ],
        [
          [
            'hive-ha-proxy',
            fmt(mm('trackedBefore')),
            fmt(mm('tracked')),
            fmt(mm('before') / 1024, 1),
            fmt(mm('after') / 1024, 1),
            fmt(mm('perSession'), 2),
            fmt(mm('heapPerSession'), 2),
            fmt(nSessions / (mm('openMs') / 1000)),
          ],
        ],
      )}`,
    )
    // RSS alone can stay flat (the warm-up committed the pages the table then fills): the larger
    // of the RSS and the V8 heap growth is the figure held to the target
    const per = Math.max(mm('perSession'), mm('heapPerSession'))
    out.targets.push(
      target(
        'memory per tracked HTTP session (larger of RSS and V8 heap growth)',
        `${fmt(per, 2)} KiB`,
        '≤ 1 KiB',
        per <= 1,
      ),
    )
    out.runs.memory = mem
  } finally {
    release()
    for (const p of owned.reverse()) await stop(p)
  }
  return out
}
