// Child processes of the benchmark (every one is killed at the end, even on error or a signal) and
// what /proc says about them.
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { once } from 'node:events'

export const TICK = 100 // USER_HZ: /proc/<pid>/stat times are in 1/100 s on Linux
const live = new Set()
let closing = false

/**
 * Spawn a long-lived child; stdout/stderr lines are kept (the last 2,000) and can be waited for.
 * `ulimit: true` raises the open-files limit to the hard limit first (bash -c 'ulimit -n ...; exec').
 */
export function start(name, cmd, args, { ulimit = false, cwd, env, pin } = {}) {
  if (closing) throw new Error(`not starting ${name}: the benchmark is stopping`)
  let argv = [cmd, ...args]
  if (pin !== undefined) argv = ['taskset', '-c', pin, ...argv]
  if (ulimit) argv = ['bash', '-c', 'ulimit -n "$(ulimit -Hn)"; exec "$@"', 'bash', ...argv]
  const proc = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
  const p = {
    name,
    proc,
    pid: proc.pid,
    lines: [],
    waiters: new Set(),
    exited: false,
    code: undefined,
  }
  live.add(p)
  const onLine = (line) => {
    p.lines.push(line)
    if (p.lines.length > 2000) p.lines.splice(0, 1000)
    for (const w of p.waiters) w(line)
  }
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = ''
    stream.setEncoding('utf8')
    stream.on('data', (d) => {
      const parts = (rest + d).split('\n')
      rest = parts.pop() ?? ''
      for (const l of parts) onLine(l)
    })
  }
  proc.stdin.on('error', () => {})
  p.exit = once(proc, 'exit').then(([code, sig]) => {
    p.exited = true
    p.code = code ?? sig
    live.delete(p)
    for (const w of p.waiters) w(undefined)
    return p.code
  })
  proc.on('error', () => {})
  return p
}

/** The first line (past or future) matching `re`; rejects after `ms` or when the process exits. */
export function waitLine(p, re, ms, what = String(re)) {
  const seen = p.lines.find((l) => re.test(l))
  if (seen !== undefined) return Promise.resolve(seen)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        done(
          new Error(
            `${p.name}: no ${what} within ${ms} ms; last output:\n${p.lines.slice(-15).join('\n')}`,
          ),
        ),
      ms,
    )
    const w = (line) => {
      if (line === undefined)
        done(
          new Error(
            `${p.name} exited (${p.code}) before ${what}; last output:\n${p.lines.slice(-15).join('\n')}`,
          ),
        )
      else if (re.test(line)) done(undefined, line)
    }
    function done(err, line) {
      clearTimeout(timer)
      p.waiters.delete(w)
      if (err) reject(err)
      else resolve(line)
    }
    p.waiters.add(w)
  })
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
export async function stop(p, graceMs = 2000) {
  if (p.exited) return
  p.proc.kill('SIGCONT')
  p.proc.kill('SIGTERM')
  const t = setTimeout(() => p.proc.kill('SIGKILL'), graceMs)
  await p.exit
  clearTimeout(t)
}

/** Stop every child and refuse to start new ones. */
export async function stopAll() {
  closing = true
  await Promise.all([...live].map((p) => stop(p, 1500)))
}

/** Last resort (process 'exit'): no waiting possible, so SIGKILL what is left. */
export function killAllNow() {
  for (const p of live) {
    try {
      p.proc.kill('SIGKILL')
    } catch {}
  }
}

/** Run a short-lived child to completion; resolves { code, stdout, stderr }. Bounded by `ms`. */
export function run(cmd, args, { ms = 120_000, input, pin, env } = {}) {
  if (closing)
    return Promise.resolve({ code: 'stopping', stdout: '', stderr: 'the benchmark is stopping' })
  if (pin !== undefined) {
    args = ['-c', pin, cmd, ...args]
    cmd = 'taskset'
  }
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const p = { name: cmd, proc, pid: proc.pid, exited: false }
    live.add(p)
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d) => (stdout += d))
    proc.stderr.on('data', (d) => (stderr += d))
    proc.stdin.on('error', () => {})
    if (input !== undefined) proc.stdin.end(input)
    const timer = setTimeout(() => proc.kill('SIGKILL'), ms)
    proc.on('error', (e) => (stderr += e.message))
    proc.on('close', (code, sig) => {
      clearTimeout(timer)
      p.exited = true
      live.delete(p)
      resolve({ code: code ?? sig, stdout, stderr })
    })
  })
}

/** { utime, stime, minflt } (ticks / faults) of a whole process (all threads), or undefined if gone. */
export function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // fields from 3 (state) on: minflt is field 10, utime 14, stime 15, cutime 16, cstime 17
    return {
      minflt: Number(f[7]),
      utime: Number(f[11]),
      stime: Number(f[12]),
      cutime: Number(f[13]),
      cstime: Number(f[14]),
    }
  } catch {
    return undefined
  }
}

/** CPU seconds (utime + stime) of a process; with children = its reaped children too. */
export function cpuSec(pid, children = false) {
  const s = procStat(pid)
  if (s === undefined) return 0
  return (s.utime + s.stime + (children ? s.cutime + s.cstime : 0)) / TICK
}

export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/**
 * CPU seconds of the whole machine (all CPUs): `busy` = user + nice + system (irq and softirq
 * time is left out: much of it is our own loopback traffic, and processes are not charged for it);
 * `steal` = time this VM's CPUs wanted to run but the hypervisor ran someone else (0 on bare metal).
 */
export function machineCpuSec() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  return { busy: (f[1] + f[2] + f[3]) / TICK, steal: (f[8] ?? 0) / TICK }
}

export function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

/** Pin every thread of `pid` to `cpus` (taskset -a -p); returns false when taskset failed. */
export async function pin(pid, cpus) {
  const r = await run('taskset', ['-a', '-p', '-c', cpus, String(pid)], { ms: 5000 })
  return r.code === 0
}

export function threadsOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).length
  } catch {
    return 0
  }
}
