import { readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadConfig } from './config/load.js'
import { ConfigError, errorCode, errorMessage } from './errors.js'
import { createLogger, resolveLogFormat, type Logger } from './logger.js'
import { HiveHaProxy, type ReloadResult } from './proxy.js'
import type { FastifyInstance } from 'fastify'

// Start-up cost: the operator commands, `check`, the admin API (fastify) and the metrics
// (prom-client) are imported when used, the last two once the routes listen, so a start loads
// only what it runs (docs/benchmarks.md, start-up and idle).

/** Exit codes: 0 ok or clean shutdown, 1 runtime failure (e.g. cannot listen), 2 bad configuration. */
export const EXIT = { OK: 0, RUNTIME: 1, CONFIG: 2 } as const

export interface CliIo {
  argv: string[]
  env: Record<string, string | undefined>
  stdout: (s: string) => void
  stderr: (s: string) => void
  exit: (code: number) => void
  /** whether log lines go to a terminal (default: process.stdout.isTTY); decides `logFormat: auto` */
  stdoutIsTTY?: boolean
}

export function version(): string {
  const require = createRequire(import.meta.url)
  return (require('../package.json') as { version: string }).version
}

/**
 * Parse, validate, start, and wire the signals. Resolves once started (or once it decided to exit).
 * SIGTERM/SIGINT: stop accepting, let live connections finish within the grace period, exit 0;
 * a second signal cuts at once.
 */
export async function runCli(io: CliIo = processIo()): Promise<HiveHaProxy | undefined> {
  const sub = io.argv[0]
  if (sub === 'status' || sub === 'drain' || sub === 'undrain') {
    const ops = { argv: io.argv.slice(1), env: io.env, stdout: io.stdout, stderr: io.stderr, fetch }
    io.exit(
      sub === 'status'
        ? await (await import('./status.js')).runStatus(ops)
        : await (await import('./drain-cmd.js')).runDrain(ops, sub),
    )
    return undefined
  }
  // `check [options]`: the same sources and validation as a start, then a description, no start
  const checking = sub === 'check'
  const argv = checking ? io.argv.slice(1) : io.argv
  const load = (): ReturnType<typeof loadConfig> =>
    loadConfig({
      argv,
      env: io.env,
      readFile: (p) => readFileSync(p, 'utf8'),
      fileMode: (p) => {
        try {
          return statSync(p).mode
        } catch {
          return undefined
        }
      },
    })
  let cmd: ReturnType<typeof loadConfig>
  try {
    cmd = load()
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`hive-ha-proxy: ${err.message}\nRun 'hive-ha-proxy --help' for the options.\n`)
      io.exit(EXIT.CONFIG)
      return undefined
    }
    throw err
  }
  if (cmd.kind === 'help') {
    io.stdout(cmd.text)
    io.exit(EXIT.OK)
    return undefined
  }
  if (cmd.kind === 'version') {
    io.stdout(`hive-ha-proxy ${version()}\n`)
    io.exit(EXIT.OK)
    return undefined
  }
  if (checking) {
    const { describeConfig } = await import('./check.js')
    io.stdout(describeConfig(cmd.config, cmd.sources))
    io.exit(EXIT.OK)
    return undefined
  }
  const logger = createLogger(
    cmd.config.logLevel,
    undefined,
    resolveLogFormat(cmd.config.logFormat, io.stdoutIsTTY ?? process.stdout.isTTY === true),
  )
  for (const notice of cmd.notices) logger.warn({ deprecated: true }, notice)
  for (const warning of cmd.warnings) logger.warn(warning)
  const proxy = new HiveHaProxy(cmd.config, { logger })
  const reload = async (): Promise<ReloadResult> => {
    const next = load()
    if (next.kind !== 'run') throw new Error('reload produced no configuration')
    for (const warning of next.warnings) logger.warn(warning)
    return proxy.reload(next.config)
  }
  let admin: FastifyInstance
  let adminAddress: string
  // the admin plane's modules (fastify, prom-client: the larger part of start-up) load while the
  // routes bind; should they fail to load, the await below reports it, not an unhandled rejection
  const adminModules = Promise.all([import('./admin/app.js'), import('./admin/metrics.js')])
  adminModules.catch(() => undefined)
  try {
    await proxy.start()
    const [{ buildAdminApp }, { ProxyMetrics }] = await adminModules
    const m = new ProxyMetrics(() => proxy.snapshot())
    admin = buildAdminApp({
      target: proxy,
      logger,
      token: cmd.config.admin.token,
      reload,
      metrics: () => m.text(),
      metricsContentType: m.registry.contentType,
    })
    adminAddress = await admin.listen({
      host: cmd.config.admin.listen.host,
      port: cmd.config.admin.listen.port,
    })
  } catch (err) {
    logger.fatal({ code: errorCode(err), err: errorMessage(err) }, 'cannot start')
    await proxy.stop(0)
    io.exit(EXIT.RUNTIME)
    return undefined
  }
  logger.info(
    {
      version: version(),
      sources: cmd.sources,
      admin: adminAddress,
      routes: proxy.routes.map((r) => ({ name: r.name, listen: r.address() })),
    },
    'hive-ha-proxy started',
  )
  installSignals(proxy, admin, logger, cmd.config.shutdownGraceMs, io, reload)
  return proxy
}

function installSignals(
  proxy: HiveHaProxy,
  admin: FastifyInstance,
  logger: Logger,
  graceMs: number,
  io: CliIo,
  reload: () => Promise<unknown>,
): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; cutting live connections now')
      io.exit(EXIT.RUNTIME)
      return
    }
    stopping = true
    logger.info({ signal, graceMs }, 'shutting down: not accepting, waiting for live connections')
    // readiness turns false at once (lifecycle 'stopping'); the admin API stays up until the end
    proxy
      .stop(graceMs)
      .then(() => admin.close())
      .then(
        () => {
          logger.info('stopped')
          logger.flush()
          io.exit(EXIT.OK)
        },
        (err: unknown) => {
          logger.error({ err: errorMessage(err) }, 'shutdown failed')
          io.exit(EXIT.RUNTIME)
        },
      )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  // Node's default for SIGHUP is to exit; here it reloads, and a bad new file changes nothing.
  process.on('SIGHUP', () => {
    logger.info('SIGHUP received; reloading the configuration')
    reload().catch((err: unknown) => {
      if (err instanceof ConfigError)
        logger.error({ problems: err.problems }, 'reload rejected; the running configuration stays')
      else logger.error({ err: errorMessage(err) }, 'reload failed')
    })
  })
}

function processIo(): CliIo {
  return {
    argv: process.argv.slice(2),
    env: process.env,
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    exit: (code) => {
      process.exitCode = code
      // let pino and stdout flush, then leave even if a handle (socket, timer) is still open
      setImmediate(() => process.exit(code))
    },
  }
}
