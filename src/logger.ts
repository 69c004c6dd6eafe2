import { pino, type DestinationStream, type Logger } from 'pino'
import type { LogFormat, LogLevel } from './config/types.js'
import { lazy } from './lazy.js'

export type { Logger }

/** the format a logger is built with, once `auto` is decided */
export type ResolvedLogFormat = Exclude<LogFormat, 'auto'>

/** `auto` means readable lines for a person at a terminal, JSON lines for everything else. */
export function resolveLogFormat(format: LogFormat, stdoutIsTTY: boolean): ResolvedLogFormat {
  if (format !== 'auto') return format
  return stdoutIsTTY ? 'pretty' : 'json'
}

type PrettyFactory = (opts: Record<string, unknown>) => DestinationStream
const prettyLib = lazy<PrettyFactory>('pino-pretty')

/**
 * pino-pretty is loaded only when pretty output is chosen: JSON is the default off a terminal, and a
 * sidecar should not pay for a formatter it never uses. It runs in this thread as a synchronous
 * stream, not as a worker-thread transport: a worker adds a thread and its memory to every process,
 * and lines written right before `process.exit` (a fatal start error) would be lost with it.
 */
function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  const pretty = prettyLib()
  return pretty({
    sync: true,
    destination: destination ?? 1,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
  })
}

/**
 * The one root logger. Components take `root.child({ component, ... })`; messages are short constant
 * strings and data goes in fields. Nothing here ever logs payload bytes: SASL PLAIN carries passwords.
 */
export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  format: ResolvedLogFormat = 'json',
): Logger {
  if (format === 'pretty') {
    // pretty reads pino's numeric levels, so no label formatter here
    const opts = { level, base: { name: 'hive-ha-proxy' } }
    return pino(opts, prettyStream(destination))
  }
  const opts = {
    level,
    base: { name: 'hive-ha-proxy' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }
  return destination === undefined ? pino(opts) : pino(opts, destination)
}
