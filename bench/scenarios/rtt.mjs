// Scenario 2: 1 KiB request/response round trips on one connection per path; added p50/p99 latency
// over direct, with CPUs pinned (perf-baseline.md §1: unpinned, the RTT is bimodal on this VM), the
// paths interleaved in blocks within one client process per repetition.
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'

/** the reference path: bench/naive-proxy.mjs, Node's floor for a TCP proxy */
export const NAIVE = 'naive Node proxy (reference)'

const signed = (v) => `${v >= 0 ? '+' : ''}${fmt(v, 1)}`

/**
 * One repetition of round trips over every path from one client process, interleaved in blocks
 * (bench/client.mjs interleaved()), the order rotated by `r`. Each middle process serves its own
 * path only, so its CPU over the repetition is that path's. Per config name: { path: {count, ms,
 * us}, cpuUs: the middle process's CPU per round trip (warm-up included), noisy }.
 */
export async function interleavedRep(ctx, job, configs, r, pin) {
  const order = rotate(configs, r)
  const m = await ctx.meter.measure(() =>
    ctx.client({ ...job, ports: order.map((c) => c.port), block: ctx.cfg.rttBlock }, { pin }),
  )
  const total = job.warmup + job.count
  const out = {}
  order.forEach((c, i) => {
    const p = c.pid ? m.per.get(c.pid) : undefined
    out[c.name] = { path: m.res.paths[i], cpuUs: p ? (p.cpu * 1e6) / total : NaN, noisy: m.noisy }
  })
  return out
}

export async function rtt(ctx) {
  const { shared: s, cfg } = ctx
  const configs = [
    { name: 'direct', port: s.backend.ports.echo },
    s.haproxy && { name: 'haproxy', port: s.haproxy.ports.echo, pid: s.haproxy.proc.pid },
    { name: 'hive-ha-proxy', port: s.proxy.ports.echo, pid: s.proxy.proc.pid },
    s.naive && { name: NAIVE, port: s.naive.ports.echo, pid: s.naive.proc.pid },
  ].filter(Boolean)
  const out = {
    id: 2,
    title: `Round trips, 1 KiB, one connection per path, ${fmt(cfg.rtts)} timed (after ${fmt(cfg.rttWarmup)} warm-up), paths interleaved in blocks of ${fmt(cfg.rttBlock)}`,
    tables: [],
    targets: [],
    ratios: [],
    runs: {},
  }
  for (const layout of ctx.layouts) {
    await ctx.pinServers(layout.servers)
    const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
    for (let r = 0; r < ctx.reps; r++) {
      const rep = await interleavedRep(
        ctx,
        { mode: 'rtt', size: 1024, warmup: cfg.rttWarmup, count: cfg.rtts },
        configs,
        r,
        layout.client,
      )
      const direct = rep.direct.path.us
      for (const c of configs) {
        const x = rep[c.name]
        runs[c.name].push({
          ...x.path.us,
          cpuUsPerRt: x.cpuUs,
          noisy: x.noisy,
          addP50: x.path.us.p50 - direct.p50,
          addP99: x.path.us.p99 - direct.p99,
        })
      }
      ctx.progress(
        `rtt ${layout.name} rep ${r + 1}: ${configs.map((c) => `${c.name} p50 ${fmt(rep[c.name].path.us.p50, 1)} µs`).join(', ')}`,
      )
    }
    await ctx.pinServers(ctx.allCpus)
    const med = (name, k) => median(runs[name].map((x) => x[k]))
    const rows = configs.map((c) => [
      c.name,
      fmt(med(c.name, 'p50'), 1),
      fmt(med(c.name, 'p99'), 1),
      c.name === 'direct' ? '0' : signed(med(c.name, 'addP50')),
      c.name === 'direct' ? '0' : signed(med(c.name, 'addP99')),
      c.pid ? fmt(med(c.name, 'cpuUsPerRt'), 1) : '–',
      `${runs[c.name].filter((x) => x.noisy).length}/${runs[c.name].length}`,
    ])
    out.tables.push(
      `${layout.name} (${layout.text})\n\n${table(['path', 'p50 µs', 'p99 µs', 'added p50 µs', 'added p99 µs', 'CPU µs per RT of the middle process', 'noisy reps'], rows)}`,
    )
    const pxA = med('hive-ha-proxy', 'addP50')
    const haA = s.haproxy ? med('haproxy', 'addP50') : NaN
    out.ratios.push(
      `${layout.name}: added p50 proxy/haproxy ${fmt(ratio(pxA, haA), 2)}, added p99 proxy/haproxy ${fmt(ratio(med('hive-ha-proxy', 'addP99'), s.haproxy ? med('haproxy', 'addP99') : NaN), 2)}, p50 proxy/direct ${fmt(ratio(med('hive-ha-proxy', 'p50'), med('direct', 'p50')), 2)}`,
    )
    if (s.naive)
      out.ratios.push(
        `${layout.name}: added p50 proxy/naive Node proxy ${fmt(ratio(pxA, med(NAIVE, 'addP50')), 2)}, naive Node proxy/haproxy ${fmt(ratio(med(NAIVE, 'addP50'), haA), 2)}`,
      )
    out.targets.push(
      target(
        `added p50 latency vs haproxy's (${layout.name})`,
        `${signed(pxA)} µs vs ${signed(haA)} µs = ${fmt(ratio(pxA, haA), 2)}×`,
        "≤ 1.5× haproxy's added p50",
        s.haproxy ? pxA <= 1.5 * haA : undefined,
      ),
    )
    out.runs[layout.name] = runs
  }
  return out
}
