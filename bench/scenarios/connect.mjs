// Scenario 3: connection setup rate (connect, first byte, close) through an HS2 route whose two
// backends come from ZooKeeper; sequential and 50 in flight. The ZooKeeper server's packet counter
// shows that routing reads the in-memory view, never ZooKeeper, per connection.
import { zkReceived } from '../lib/services.mjs'
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'
import { NAIVE } from './rtt.mjs'

export async function connect(ctx) {
  const { shared: s, cfg } = ctx
  const configs = [
    { name: 'direct', ports: [s.backend.ports.hello1, s.backend.ports.hello2] },
    s.haproxy && { name: 'haproxy', ports: [s.haproxy.ports.hello], pid: s.haproxy.proc.pid },
    { name: 'hive-ha-proxy', ports: [s.proxy.ports.conn], pid: s.proxy.proc.pid, zk: true },
    s.naive && { name: NAIVE, ports: [s.naive.ports.hello], pid: s.naive.proc.pid },
  ].filter(Boolean)
  const modes = [
    { name: 'sequential', concurrency: 1 },
    { name: '50 concurrent', concurrency: 50 },
  ]
  const runs = {}
  let zkPackets = 0
  let proxied = 0
  if (!ctx.quick)
    for (const c of configs)
      await ctx.client({ mode: 'conn', ports: c.ports, n: 500, concurrency: 10 })
  for (const mode of modes) {
    for (const c of configs) runs[`${c.name}/${mode.name}`] = []
    for (let r = 0; r < ctx.reps; r++) {
      for (const c of rotate(configs, r)) {
        const z0 = c.zk ? await zkReceived(s.zk.port) : 0
        const m = await ctx.meter.measure(() =>
          ctx.client({ mode: 'conn', ports: c.ports, n: cfg.conns, concurrency: mode.concurrency }),
        )
        if (c.zk) {
          zkPackets += (await zkReceived(s.zk.port)) - z0
          proxied += cfg.conns
        }
        if (m.res.errors > 0)
          throw new Error(
            `${c.name} ${mode.name}: ${m.res.errors} of ${cfg.conns} connections failed`,
          )
        const p = c.pid ? m.per.get(c.pid) : undefined
        runs[`${c.name}/${mode.name}`].push({
          rate: cfg.conns / (m.res.ms / 1000),
          cpuUs: p ? (p.cpu * 1e6) / cfg.conns : NaN,
          noisy: m.noisy,
        })
      }
      ctx.progress(
        `connect ${mode.name} rep ${r + 1}: ${configs.map((c) => `${c.name} ${fmt(runs[`${c.name}/${mode.name}`].at(-1).rate)}/s`).join(', ')}`,
      )
    }
  }
  const med = (k, f) => median(runs[k].map((x) => x[f]))
  const rows = []
  const targets = []
  const ratios = []
  for (const mode of modes) {
    const d = med(`direct/${mode.name}`, 'rate')
    for (const c of configs) {
      const k = `${c.name}/${mode.name}`
      rows.push([
        mode.name,
        c.name,
        fmt(med(k, 'rate')),
        fmt(ratio(med(k, 'rate'), d), 2),
        c.pid ? fmt(med(k, 'cpuUs')) : '–',
        `${runs[k].filter((x) => x.noisy).length}/${runs[k].length}`,
      ])
    }
    const px = med(`hive-ha-proxy/${mode.name}`, 'rate')
    const ha = s.haproxy ? med(`haproxy/${mode.name}`, 'rate') : NaN
    const nv = s.naive ? med(`${NAIVE}/${mode.name}`, 'rate') : NaN
    ratios.push(
      `${mode.name}: proxy/direct ${fmt(ratio(px, d), 2)}, proxy/haproxy ${fmt(ratio(px, ha), 2)}, proxy/naive Node proxy ${fmt(ratio(px, nv), 2)}, naive Node proxy/haproxy ${fmt(ratio(nv, ha), 2)}`,
    )
    targets.push(
      target(
        `connection rate vs haproxy (${mode.name})`,
        `${fmt(ratio(px, ha), 2)}×`,
        '≥ 0.8× haproxy',
        s.haproxy ? px / ha >= 0.8 : undefined,
      ),
    )
  }
  return {
    id: 3,
    title: `Connection setup (connect, first byte, close), ${fmt(cfg.conns)} connections per run, HS2 route with 2 backends from ZooKeeper`,
    table: table(
      [
        'mode',
        'path',
        'conn/s',
        '× direct',
        'CPU µs per connection of the middle process',
        'noisy reps',
      ],
      rows,
    ),
    notes: [
      `ZooKeeper packets received while ${fmt(proxied)} connections went through the proxy: ${fmt(zkPackets)} (session pings of the proxy and the bench; routing reads the in-memory view)`,
    ],
    ratios,
    targets,
    runs,
  }
}
