import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// Smoke test of the benchmark (issue 6): `npm run bench -- --quick` runs every scenario at toy
// sizes and prints a report with numbers. The full benchmark never runs in the test command.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
// No time assertion: a slow or busy machine is not a failure. The limit is a safety net against
// a hung bench only: it kills the bench and reports where it was. tap's per-file timeout (.taprc)
// is raised above it, or tap would kill this file first.
const SAFETY_NET_MS = 15 * 60_000
t.setTimeout(SAFETY_NET_MS + 2 * 60_000)

function missing(): string | undefined {
  if (!existsSync(join(root, 'dist/hive-ha-proxy.js'))) return 'dist/ is not built (npm run build)'
  if (
    spawnSync('java', ['-version']).status !== 0 ||
    !existsSync('/usr/share/java/zookeeper.jar')
  ) {
    return 'java or ZooKeeper is missing (apt-get install -y zookeeper)'
  }
  if (
    !['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].some((p) => existsSync(p))
  ) {
    return 'haproxy is missing (apt-get install -y haproxy)'
  }
  return undefined
}

function runQuick(): Promise<{
  code: number | null
  out: string
  err: string
  ms: number
  killed: boolean
}> {
  return new Promise((done) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [join(root, 'bench/run.mjs'), '--quick'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    // SIGTERM lets the bench stop everything it started; SIGKILL only if it does not exit
    let killed = false
    const term = setTimeout(() => {
      killed = true
      child.kill('SIGTERM')
    }, SAFETY_NET_MS)
    const kill = setTimeout(() => child.kill('SIGKILL'), SAFETY_NET_MS + 10_000)
    child.on('close', (code) => {
      clearTimeout(term)
      clearTimeout(kill)
      done({ code, out, err, ms: Date.now() - t0, killed })
    })
  })
}

/** the scenario numbers bench/run.mjs runs by default */
const SCENARIOS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

const why = missing()
// skipped (with the reason) where the machine lacks what the bench starts
t.test(
  'npm run bench -- --quick reports every scenario with numbers',
  { skip: why === undefined ? false : `bench smoke test skipped: ${why}` },
  async (t) => {
    const r = await runQuick()
    if (r.killed) {
      const last =
        r.out
          .match(/\n## [^\n]*/g)
          ?.pop()
          ?.trim() ?? 'none'
      t.fail(
        `bench still running after ${SAFETY_NET_MS / 60_000} min, killed; last section reached: ${last}`,
      )
    }
    t.equal(r.code, 0, `bench exits 0 (stderr tail: ${r.err.slice(-1500)})`)
    t.comment(`quick bench took ${r.ms} ms`)
    t.notMatch(r.out, /FAILED/, 'no scenario failed')
    const sections = r.out.split(/\n(?=## )/)
    for (const n of SCENARIOS) {
      const s = sections.find((x) => x.startsWith(`## ${n}. `))
      t.ok(s, `scenario ${n} is in the report`)
      // a table row with at least one number in it
      t.match(s ?? '', /\n\|[^\n]*\| [+]?\d[\d,.]* \|/, `scenario ${n} has numbers`)
    }
    const targets = sections.find((x) => x.startsWith('## Targets')) ?? ''
    for (const n of SCENARIOS) {
      t.match(
        targets,
        new RegExp(`\\n\\| ${n} \\| [^\\n]*\\d[^\\n]*\\| (met|NOT met) \\|`),
        `target line for scenario ${n} with a verdict`,
      )
    }
  },
)
