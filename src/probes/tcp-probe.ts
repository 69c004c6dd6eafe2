/**
 * The TCP-only probe (`probe: tcp`, on request only): a connect, then a close. It cannot see a hung
 * server (the kernel accepts for it) and every probe leaves a line in a SASL server's log ("No data
 * or no sasl data in the stream"); it sees a dead host or a closed port.
 */
import type { Dial } from '../net/dial.js'
import type { Prober } from './runner.js'

export function tcpProber(o: {
  host: string
  port: number
  key: string
  connectTimeoutMs: number
  dial: Dial
}): Prober {
  return {
    probe: async () => {
      const sock = await o.dial({
        host: o.host,
        port: o.port,
        key: o.key,
        timeoutMs: o.connectTimeoutMs,
      })
      // nothing was sent and nothing is unread: the close is a FIN, not a reset
      sock.destroy()
      return 'connected'
    },
    close: () => {},
  }
}
