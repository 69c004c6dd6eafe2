// Scenario 5: the metastore route in Thrift-aware mode (mode: auto, detects strict binary) against
// the same route piping bytes (mode: pipe), each in a fresh proxy process of its own:
// get_table_req calls one after another (calls/s, p50/p99; pinned and interleaved like scenario 2),
// and MiB/s of one large streamed get_partitions answer.
import { partitionsFor, partitionsReply } from '../lib/thrift-msg.mjs'
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'
import { interleavedRep } from './rtt.mjs'

export async function metastore(ctx) {
  const { shared: s, cfg } = ctx
  const configs = [
    { name: 'direct', port: s.backend.ports.hms },
    s.haproxy && { name: 'haproxy', port: s.haproxy.ports.hms, pid: s.haproxy.proc.pid },
    { name: 'proxy, mode pipe', port: s.proxyPipe.ports['hms-pipe'], pid: s.proxyPipe.proc.pid },
    { name: 'proxy, Thrift-aware', port: s.proxyHms.ports.hms, pid: s.proxyHms.proc.pid },
  ].filter(Boolean)
  const PIPE = 'proxy, mode pipe'
  const THRIFT = 'proxy, Thrift-aware'
  const out = {
    id: 5,
    title: 'Metastore route: Thrift-aware vs byte pipe',
    tables: [],
    targets: [],
    ratios: [],
    runs: {},
  }

  // small calls (the warm-up calls of each run are not timed)
  for (const layout of ctx.layouts) {
    await ctx.pinServers(layout.servers)
    const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
    for (let r = 0; r < ctx.reps; r++) {
      const rep = await interleavedRep(
        ctx,
        { mode: 'hms-calls', warmup: cfg.callWarmup, count: cfg.calls },
        configs,
        r,
        layout.client,
      )
      for (const c of configs) {
        const { path: x, cpuUs, noisy } = rep[c.name]
        runs[c.name].push({ rate: x.count / (x.ms / 1000), ...x.us, cpuUs, noisy })
      }
      ctx.progress(
        `hms calls ${layout.name} rep ${r + 1}: ${configs.map((c) => `${c.name} ${fmt(runs[c.name].at(-1).rate)}/s`).join(', ')}`,
      )
    }
    await ctx.pinServers(ctx.allCpus)
    const med = (name, k) => median(runs[name].map((x) => x[k]))
    const rows = configs.map((c) => [
      c.name,
      fmt(med(c.name, 'rate')),
      fmt(ratio(med(c.name, 'rate'), med(PIPE, 'rate')), 2),
      fmt(med(c.name, 'p50'), 1),
      fmt(med(c.name, 'p99'), 1),
      c.pid ? fmt(med(c.name, 'cpuUs'), 1) : '–',
      `${runs[c.name].filter((x) => x.noisy).length}/${runs[c.name].length}`,
    ])
    out.tables.push(
      `get_table_req calls (~1 KiB each way), ${fmt(cfg.calls)} timed, ${layout.name} (${layout.text})\n\n${table(['path', 'calls/s', '× pipe', 'p50 µs', 'p99 µs', 'CPU µs per call of the middle process', 'noisy reps'], rows)}`,
    )
    const q = ratio(med(THRIFT, 'rate'), med(PIPE, 'rate'))
    out.ratios.push(
      `${layout.name}: Thrift-aware/pipe calls/s ${fmt(q, 2)}, p50 ${fmt(med(THRIFT, 'p50') - med(PIPE, 'p50'), 1)} µs over pipe`,
    )
    out.targets.push(
      target(
        `Thrift-aware calls/s vs pipe (${layout.name})`,
        `${fmt(q, 2)}×`,
        '≥ 0.9× pipe',
        q >= 0.9,
      ),
    )
    out.runs[`calls ${layout.name}`] = runs
  }

  // one large answer
  const count = partitionsFor(cfg.streamBytes)
  const size = partitionsReply(1, count).size
  const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
  if (!ctx.quick)
    for (const c of configs)
      await ctx.client({ mode: 'hms-stream', port: c.port, count: partitionsFor(32 * 2 ** 20) })
  for (let r = 0; r < ctx.reps; r++) {
    for (const c of rotate(configs, r)) {
      const m = await ctx.meter.measure(() =>
        ctx.client({ mode: 'hms-stream', port: c.port, count }),
      )
      const p = c.pid ? m.per.get(c.pid) : undefined
      const gib = size / 2 ** 30
      runs[c.name].push({
        mibs: size / 2 ** 20 / (m.res.ms / 1000),
        cpu: p ? p.cpu / gib : NaN,
        user: p ? p.user / gib : NaN,
        sys: p ? p.sys / gib : NaN,
        noisy: m.noisy,
      })
    }
    ctx.progress(
      `hms stream rep ${r + 1}: ${configs.map((c) => `${c.name} ${fmt(runs[c.name].at(-1).mibs)} MiB/s`).join(', ')}`,
    )
  }
  const med = (name, k) => median(runs[name].map((x) => x[k]))
  const rows = configs.map((c) => [
    c.name,
    fmt(med(c.name, 'mibs')),
    fmt(ratio(med(c.name, 'mibs'), med(PIPE, 'mibs')), 2),
    c.pid
      ? `${fmt(med(c.name, 'cpu'), 2)} (${fmt(med(c.name, 'user'), 2)} / ${fmt(med(c.name, 'sys'), 2)})`
      : '–',
    `${runs[c.name].filter((x) => x.noisy).length}/${runs[c.name].length}`,
  ])
  out.tables.push(
    `one get_partitions answer of ${fmt(size / 2 ** 20)} MiB (${fmt(count)} Partition structs with StorageDescriptor, 5 columns, parameter maps), unpinned\n\n${table(['path', 'MiB/s', '× pipe', 'CPU s/GiB of the middle process (user / sys)', 'noisy reps'], rows)}`,
  )
  const q = ratio(med(THRIFT, 'mibs'), med(PIPE, 'mibs'))
  out.ratios.push(`large answer: Thrift-aware/pipe MiB/s ${fmt(q, 2)}`)
  out.targets.push(
    target('Thrift-aware MiB/s vs pipe (large answer)', `${fmt(q, 2)}×`, '≥ 0.8× pipe', q >= 0.8),
  )
  out.runs.stream = runs
  return out
}
