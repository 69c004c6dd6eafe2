import t from 'tap'
import { durationHistogram } from '../../src/admin/metrics.js'
import {
  CALL_DURATION_BUCKETS_S,
  type MetastoreRouteSnapshot,
  type MethodStats,
} from '../../src/routes/metastore-route.js'

const stats = (durations: number[], totalMs: number): MethodStats => ({
  reply: 0,
  exception: 0,
  oneway: 0,
  failed: 0,
  resent: 0,
  totalMs,
  durations,
})
const route = (name: string, calls: Record<string, MethodStats>): MetastoreRouteSnapshot =>
  ({ name, calls }) as unknown as MetastoreRouteSnapshot

t.test(
  'the call-duration histogram is rendered cumulative, with +Inf, sum and count',
  async (t) => {
    const d = new Array<number>(CALL_DURATION_BUCKETS_S.length + 1).fill(0)
    d[0] = 2 // two calls ≤ 1 ms
    d[3] = 1 // one call in (5 ms, 10 ms]
    d[CALL_DURATION_BUCKETS_S.length] = 1 // one call above the last bound
    const text = durationHistogram([
      route('hms', {
        get_table: stats(d, 40_012),
        idle: stats(new Array<number>(d.length).fill(0), 0),
      }),
    ])
    const lines = text.trimEnd().split('\n')
    const N = 'hive_ha_proxy_metastore_call_duration_seconds'
    t.same(lines.slice(0, 2), [
      `# HELP ${N} metastore call duration, request start to the end of its answer`,
      `# TYPE ${N} histogram`,
    ])
    const L = 'route="hms",method="get_table"'
    t.ok(lines.includes(`${N}_bucket{le="0.001",${L}} 2`))
    t.ok(lines.includes(`${N}_bucket{le="0.005",${L}} 2`))
    t.ok(lines.includes(`${N}_bucket{le="0.01",${L}} 3`), 'buckets are cumulative')
    t.ok(lines.includes(`${N}_bucket{le="30",${L}} 3`))
    t.ok(lines.includes(`${N}_bucket{le="+Inf",${L}} 4`), 'the last bucket counts every call')
    t.ok(lines.includes(`${N}_sum{${L}} 40.012`))
    t.ok(lines.includes(`${N}_count{${L}} 4`))
    t.equal(
      lines.length,
      2 + CALL_DURATION_BUCKETS_S.length + 3,
      'a method without timed calls has no series',
    )
  },
)

t.test('label values are escaped', async (t) => {
  const d = new Array<number>(CALL_DURATION_BUCKETS_S.length + 1).fill(0)
  d[0] = 1
  const text = durationHistogram([route('a"b\\c\nd', { m: stats(d, 1) })])
  t.match(text, /_count\{route="a\\"b\\\\c\\nd",method="m"\} 1\n/)
})
