// Scenario 1: bulk throughput on one connection (a backend streaming cfg.bulkBytes), with the
// CPU seconds per GiB of the process in the middle.
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'

export async function bulk(ctx) {
  const { shared: s, cfg } = ctx
  const configs = [
    { name: 'direct', port: s.backend.ports.stream },
    s.haproxy && { name: 'haproxy', port: s.haproxy.ports.stream, pid: s.haproxy.proc.pid },
    { name: 'hive-ha-proxy', port: s.proxy.ports.bulk, pid: s.proxy.proc.pid },
  ].filter(Boolean)
  const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
  // one unmeasured transfer each first (JIT, socket buffers)
  if (!ctx.quick) for (const c of configs) await ctx.client({ mode: 'bulk', port: c.port })
  for (let r = 0; r < ctx.reps; r++) {
    for (const c of rotate(configs, r)) {
      const m = await ctx.meter.measure(() => ctx.client({ mode: 'bulk', port: c.port }))
      if (m.res.bytes !== cfg.bulkBytes)
        throw new Error(`${c.name}: got ${m.res.bytes} bytes, expected ${cfg.bulkBytes}`)
      const gib = m.res.bytes / 2 ** 30
      const p = c.pid ? m.per.get(c.pid) : undefined
      runs[c.name].push({
        mibs: m.res.bytes / 2 ** 20 / (m.res.ms / 1000),
        cpu: p ? p.cpu / gib : NaN,
        user: p ? p.user / gib : NaN,
        sys: p ? p.sys / gib : NaN,
        flt: p ? p.minflt / gib : NaN,
        noisy: m.noisy,
      })
      ctx.progress(`bulk ${c.name}: ${fmt(runs[c.name].at(-1).mibs)} MiB/s`)
    }
  }
  const med = (name, k) => median((runs[name] ?? []).map((x) => x[k]))
  const direct = med('direct', 'mibs')
  const rows = configs.map((c) => [
    c.name,
    fmt(med(c.name, 'mibs')),
    fmt(ratio(med(c.name, 'mibs'), direct), 2),
    c.pid
      ? `${fmt(med(c.name, 'cpu'), 2)} (${fmt(med(c.name, 'user'), 2)} / ${fmt(med(c.name, 'sys'), 2)})`
      : '–',
    c.pid ? fmt(med(c.name, 'flt')) : '–',
    `${runs[c.name].filter((x) => x.noisy).length}/${runs[c.name].length}`,
  ])
  const px = med('hive-ha-proxy', 'mibs')
  const ha = med('haproxy', 'mibs')
  return {
    id: 1,
    title: `Bulk throughput, one connection, ${fmt(cfg.bulkBytes / 2 ** 20)} MiB`,
    table: table(
      [
        'path',
        'MiB/s',
        '× direct',
        'CPU s/GiB of the middle process (user / sys)',
        'minor faults/GiB',
        'noisy reps',
      ],
      rows,
    ),
    summary: {
      proxyMiBs: px,
      haproxyMiBs: ha,
      directMiBs: direct,
      proxyCpuPerGiB: med('hive-ha-proxy', 'cpu'),
      haproxyCpuPerGiB: med('haproxy', 'cpu'),
    },
    ratios: [`proxy/direct ${fmt(ratio(px, direct), 2)}`, `proxy/haproxy ${fmt(ratio(px, ha), 2)}`],
    targets: [
      target(
        'throughput vs haproxy',
        `${fmt(ratio(px, ha), 2)}×`,
        '≥ 0.9× haproxy',
        s.haproxy ? ratio(px, ha) >= 0.9 : undefined,
      ),
    ],
    runs,
  }
}
