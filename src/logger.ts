import { pino, type Logger, type DestinationStream } from 'pino'
import type { LogLevel } from './config/types.js'

export type { Logger }

/**
 * The one root logger. Components take `root.child({ component, ... })`; messages are short constant
 * strings and data goes in fields. Nothing here ever logs payload bytes: SASL PLAIN carries passwords.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const opts = {
    level,
    base: { name: 'hive-ha-proxy' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }
  return destination === undefined ? pino(opts) : pino(opts, destination)
}
