/**
 * A real, standalone ZooKeeper server per test file (test-env.md §1.2).
 *
 *   const zk = await startZk()
 *   t.teardown(() => zk.close())
 *
 * The server binds 127.0.0.1 only, with its own temp data dir. Node spawns the JVM itself
 * (gotcha Z3), so it is a direct child that Node reaps. When `setpriv` (util-linux) is available
 * the JVM also gets a parent-death signal, so it dies with the test process even if the test is
 * killed before its teardown runs.
 *
 * Readiness gate: by default clients do not talk to the JVM's port directly but to a loopback TCP
 * pipe (`port`) that only accepts connections while the server is ready (`srvr` says `Mode: `), and
 * refuses them while it is stopped or starting. Reason (seen here, ZooKeeper 3.8.0): a client that
 * reconnects in the few ms between the server binding its port and loading its database gets its
 * connection "closed" by a server-side NullPointerException (ZooKeeperServer.removeCnxn, zkDb null)
 * that leaves the TCP connection open; node-zookeeper-client then waits forever for the connect
 * response (CONNECTING, no timeout), so restart tests hang at random. `direct: true` disables the
 * gate (port = the JVM's port) for tests that want exactly that behaviour.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar'
/** optional: routes ZooKeeper's slf4j logging to logFile (without it: a 3-line SLF4J notice, then silence) */
const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar'
const SETPRIV = '/usr/bin/setpriv'

export interface ZkServer {
  /** the port clients use (the readiness gate, or the JVM's port with `direct`) */
  port: number
  /** '127.0.0.1:<port>' */
  connectString: string
  /** the JVM's own client port (4-letter words, debugging) */
  zkPort: number
  /** ZooKeeper's stdout/stderr (slf4j-simple at `logLevel`); removed by close() */
  logFile: string
  /** pid of the running JVM, undefined while stopped */
  readonly pid: number | undefined
  /** close the gate, SIGTERM, wait for exit (SIGKILL after 10 s); idempotent */
  stop(): Promise<void>
  /**
   * start again on the same port (no-op if running); `wipe` empties the data dir first.
   * Trap after a wipe: a client that already saw a higher zxid is refused by the fresh server
   * ("Refusing session request ... as it has seen zxid 0x..") and keeps retrying, neither
   * connected nor expired, until the new server's zxid passes the one it saw; then it gets EXPIRED.
   */
  start(opts?: { wipe?: boolean }): Promise<void>
  restart(opts?: { wipe?: boolean }): Promise<void>
  /** stop + remove the temp dir; idempotent */
  close(): Promise<void>
}

export interface StartZkOptions {
  /** ZooKeeper tickTime in ms (default 250) */
  tickTime?: number
  /** lower clamp for negotiated session timeouts in ms (default 500; ZooKeeper's own default is 2 x tickTime) */
  minSessionTimeout?: number
  /** upper clamp in ms (default 60000) */
  maxSessionTimeout?: number
  /** readiness deadline in ms (default 15000) */
  startTimeoutMs?: number
  /** ZooKeeper log level written to `logFile` (default 'warn'; 'info' shows session handling) */
  logLevel?: 'error' | 'warn' | 'info' | 'debug'
  /** no readiness gate: clients connect to the JVM directly (see the file comment) */
  direct?: boolean
}

const READY_DEADLINE_MS = 15_000
const PROBE_TIMEOUT_MS = 1_000
const STOP_GRACE_MS = 10_000

/** Send a 4-letter word and collect the reply; '' on any failure. Bounded by `timeoutMs`. */
export function fourLetterWord(
  port: number,
  cmd: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<string> {
  return new Promise<string>((resolve) => {
    let out = ''
    let settled = false
    const sock = net.connect(port, '127.0.0.1')
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      sock.destroy()
      resolve(out)
    }
    const timer = setTimeout(finish, timeoutMs)
    sock.setTimeout(timeoutMs, finish)
    sock.on('connect', () => sock.write(cmd))
    sock.on('data', (d: Buffer) => (out += d.toString('utf8')))
    sock.on('close', finish)
    sock.on('error', () => {
      out = ''
      finish()
    })
  })
}

/** A free loopback port: bind port 0 on 127.0.0.1, read it, close. */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() =>
        port > 0 ? resolve(port) : reject(new Error('could not allocate a free port')),
      )
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** synchronous cleanups run when the test process exits without its teardown (one 'exit' listener) */
const exitCleanups = new Set<() => void>()
let exitHookInstalled = false
export function onProcessExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const f of exitCleanups) {
        try {
          f()
        } catch {
          // best effort
        }
      }
    })
  }
  exitCleanups.add(fn)
  return () => {
    exitCleanups.delete(fn)
  }
}

export function assertZookeeperInstalled(): void {
  if (!existsSync(ZOOKEEPER_JAR)) {
    throw new Error(
      `ZooKeeper is not installed: ${ZOOKEEPER_JAR} is missing. The integration tests need a real ZooKeeper server. ` +
        'Fix: install the Debian package with `apt-get install -y zookeeper` (as root; `apt-get update` first if needed), ' +
        "or run the project's test command (`npm test`, i.e. scripts/test.sh), which installs it.",
    )
  }
}

export function tail(file: string, max = 2000): string {
  try {
    const s = readFileSync(file, 'utf8')
    return s.length > max ? s.slice(-max) : s
  } catch {
    return ''
  }
}

function killNow(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
}

/**
 * Spawn a ZooKeeper JVM (`mainClass`: ZooKeeperServerMain standalone, QuorumPeerMain in an
 * ensemble) with its output appended to `logFile`. With `setpriv` it also dies with this process.
 * The caller registers `killNow` as an exit cleanup and waits for readiness itself.
 */
export function launchZkJvm(
  mainClass: string,
  cfgFile: string,
  logFile: string,
  logLevel: string,
): ChildProcess {
  const classpath = existsSync(SLF4J_SIMPLE_JAR)
    ? `${ZOOKEEPER_JAR}:${SLF4J_SIMPLE_JAR}`
    : ZOOKEEPER_JAR
  const javaArgs = [
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Dzookeeper.admin.enableServer=false',
    `-Dorg.slf4j.simpleLogger.defaultLogLevel=${logLevel}`,
    '-cp',
    classpath,
    mainClass,
    cfgFile,
  ]
  const logFd = openSync(logFile, 'a')
  try {
    return existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', 'java', ...javaArgs], {
          stdio: ['ignore', logFd, logFd],
        })
      : spawn('java', javaArgs, { stdio: ['ignore', logFd, logFd] })
  } finally {
    closeSync(logFd)
  }
}

/** SIGTERM, SIGKILL after the grace time, resolve when it exited (or gave up waiting). */
export async function terminateJvm(p: ChildProcess): Promise<void> {
  // no pid: the spawn itself failed ('error' event), there is nothing to wait for
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>((r) => p.once('exit', () => r()))
  p.kill('SIGTERM')
  const kill = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS)
  let giveUp: NodeJS.Timeout | undefined
  await Promise.race([
    exited,
    new Promise<void>((r) => (giveUp = setTimeout(r, STOP_GRACE_MS + 5000))),
  ])
  clearTimeout(kill)
  clearTimeout(giveUp)
}

/** The readiness gate: a loopback TCP pipe to the JVM that only listens while the server is ready. */
class Gate {
  port = 0
  private server: net.Server | undefined
  private readonly pairs = new Set<net.Socket>()
  constructor(private readonly upstreamPort: () => number) {}

  /** listen on `port` (0 = pick one); retries EADDRINUSE for up to 3 s */
  async open(port: number): Promise<void> {
    if (this.server) return
    const deadline = Date.now() + 3000
    for (;;) {
      const server = net.createServer((down) => this.pipe(down))
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, '127.0.0.1', () => {
            server.removeListener('error', reject)
            resolve()
          })
        })
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code === 'EADDRINUSE' &&
          port !== 0 &&
          Date.now() < deadline
        ) {
          await sleep(50)
          continue
        }
        throw err
      }
      server.on('error', () => {})
      const addr = server.address()
      this.port = typeof addr === 'object' && addr ? addr.port : 0
      this.server = server
      return
    }
  }

  /**
   * Stop accepting (new connections are refused at once); existing pipes stay until drop().
   * (net.Server.close()'s callback waits for every open connection, so it is not awaited here.)
   */
  close(): void {
    const server = this.server
    this.server = undefined
    server?.close()
  }

  drop(): void {
    for (const s of this.pairs) s.destroy()
  }

  private pipe(down: net.Socket): void {
    const up = net.connect(this.upstreamPort(), '127.0.0.1')
    this.pairs.add(down)
    this.pairs.add(up)
    const kill = (): void => {
      down.destroy()
      up.destroy()
      this.pairs.delete(down)
      this.pairs.delete(up)
    }
    for (const s of [down, up]) {
      s.on('error', kill)
      s.on('close', kill)
    }
    down.setNoDelay(true)
    up.setNoDelay(true)
    down.pipe(up)
    up.pipe(down)
  }
}

export async function startZk(opts: StartZkOptions = {}): Promise<ZkServer> {
  assertZookeeperInstalled()
  const tickTime = opts.tickTime ?? 250
  const minSessionTimeout = opts.minSessionTimeout ?? 500
  const maxSessionTimeout = opts.maxSessionTimeout ?? 60_000
  const startTimeoutMs = opts.startTimeoutMs ?? READY_DEADLINE_MS
  const logLevel = opts.logLevel ?? 'warn'
  const direct = opts.direct ?? false

  const dir = mkdtempSync(join(tmpdir(), 'hhp-zk-'))
  const dataDir = join(dir, 'data')
  const cfgFile = join(dir, 'zoo.cfg')
  const logFile = join(dir, 'zk.log')
  let zkPort = 0
  let proc: ChildProcess | undefined
  let closed = false
  const gate = direct ? undefined : new Gate(() => zkPort)
  // a test that exits without its teardown still leaves no temp dir (signals skip this, though)
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  const unhookDir = onProcessExit(removeDir)

  const writeCfg = (): void => {
    writeFileSync(
      cfgFile,
      [
        `tickTime=${tickTime}`,
        `dataDir=${dataDir}`,
        `clientPort=${zkPort}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        `minSessionTimeout=${minSessionTimeout}`,
        `maxSessionTimeout=${maxSessionTimeout}`,
        '4lw.commands.whitelist=srvr,ruok,mntr,stat,cons',
        // tests do not need durability across OS crashes: skip fsync
        'forceSync=no',
        '',
      ].join('\n'),
    )
  }

  // safety net for crashes between start and teardown: kill the JVM when this process exits
  let unhookJvm = (): void => {}

  const stopJvm = async (): Promise<void> => {
    const p = proc
    if (!p) return
    await terminateJvm(p)
    if (proc === p) proc = undefined
    unhookJvm()
  }

  const stop = async (): Promise<void> => {
    // refuse new connections first, then stop the JVM (its exit closes the piped connections)
    gate?.close()
    await stopJvm()
    gate?.drop()
  }

  const spawnOnce = async (): Promise<void> => {
    mkdirSync(dataDir, { recursive: true })
    writeCfg()
    const child = launchZkJvm(
      'org.apache.zookeeper.server.ZooKeeperServerMain',
      cfgFile,
      logFile,
      logLevel,
    )
    proc = child
    unhookJvm = onProcessExit(() => killNow(child))
    let spawnError: Error | undefined
    child.once('error', (err) => (spawnError = err))

    const deadline = Date.now() + startTimeoutMs
    for (;;) {
      if (spawnError) {
        await stopJvm()
        const hint =
          (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
            ? ' (is a Java runtime installed? `apt-get install -y zookeeper` pulls one in)'
            : ''
        throw new Error(`could not spawn ZooKeeper: ${spawnError.message}${hint}`)
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        await stopJvm()
        throw new Error(
          `ZooKeeper exited during startup (code ${child.exitCode}, signal ${child.signalCode}) on port ${zkPort}; log:\n${tail(logFile)}`,
        )
      }
      const reply = await fourLetterWord(zkPort, 'srvr', PROBE_TIMEOUT_MS)
      if (reply.includes('Mode: ')) return
      if (Date.now() > deadline) {
        await stopJvm()
        throw new Error(
          `ZooKeeper on 127.0.0.1:${zkPort} not ready within ${startTimeoutMs} ms; log:\n${tail(logFile)}`,
        )
      }
      await sleep(25)
    }
  }

  // first start: a freshly probed port may be taken by someone else in between; retry with a new one
  let lastErr: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    zkPort = await freePort()
    try {
      await spawnOnce()
      lastErr = undefined
      break
    } catch (err) {
      lastErr = err
    }
  }
  if (!lastErr && gate) {
    try {
      await gate.open(0)
    } catch (err) {
      lastErr = err
      await stopJvm()
    }
  }
  if (lastErr) {
    removeDir()
    unhookDir()
    throw lastErr
  }
  const port = gate ? gate.port : zkPort

  const start = async (o: { wipe?: boolean } = {}): Promise<void> => {
    if (closed) throw new Error('ZkServer is closed')
    // the JVM may have died behind our back (e.g. a test sent it SIGKILL): treat it as stopped
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) await stop()
    if (!proc) {
      if (o.wipe) rmSync(dataDir, { recursive: true, force: true })
      await spawnOnce()
    }
    await gate?.open(port)
  }

  const server: ZkServer = {
    port,
    connectString: `127.0.0.1:${port}`,
    zkPort,
    logFile,
    get pid() {
      return proc?.pid
    },
    stop,
    start,
    async restart(o = {}) {
      await stop()
      await start(o)
    },
    async close() {
      if (closed) return
      closed = true
      await stop()
      removeDir()
      unhookDir()
    },
  }
  return server
}
