import net from 'node:net'

export interface ZkServerAddress {
  host: string
  port: number
}

/**
 * What one look at a ZooKeeper server found:
 * - 'serving': it answered `srvr` with its mode (standalone, leader, follower): sessions work now;
 * - 'starting': it answered that it is not serving requests yet (loading its database);
 * - 'accepting': TCP connects, but `srvr` said nothing useful (four-letter words can be switched
 *   off with `4lw.commands.whitelist`); taken as up;
 * - 'down': no TCP connection within the time.
 */
export type ZkProbeResult = 'serving' | 'starting' | 'accepting' | 'down'
export type ZkProbe = (server: ZkServerAddress, timeoutMs: number) => Promise<ZkProbeResult>

const DEFAULT_PORT = 2181
/** a `srvr` answer is a few hundred bytes; more is not read */
const MAX_ANSWER = 4096

/** The servers of a connect string `h1:2181,h2,[::1]:2182/chroot`, in order. */
export function zkServers(connectString: string): ZkServerAddress[] {
  const slash = connectString.indexOf('/')
  const hosts = slash < 0 ? connectString : connectString.slice(0, slash)
  const out: ZkServerAddress[] = []
  for (const part of hosts.split(',')) {
    const s = part.trim()
    if (s === '') continue
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s)
    if (m === null) continue
    out.push({ host: m[1] as string, port: m[2] === undefined ? DEFAULT_PORT : Number(m[2]) })
  }
  return out
}

/**
 * One `srvr` four-letter word over a fresh TCP connection, bounded by `timeoutMs`. `srvr` is the
 * one word ZooKeeper allows by default; the server closes the connection after answering.
 */
export const defaultZkProbe: ZkProbe = (server, timeoutMs) =>
  new Promise((resolve) => {
    let answer = ''
    let connected = false
    let settled = false
    const sock = net.connect({ host: server.host, port: server.port })
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      sock.destroy()
      if (!connected) resolve('down')
      else if (answer.includes('Mode: ')) resolve('serving')
      else if (answer.includes('not currently serving')) resolve('starting')
      else resolve('accepting')
    }
    const timer = setTimeout(finish, timeoutMs)
    sock.on('connect', () => {
      connected = true
      sock.end('srvr')
    })
    sock.on('data', (d: Buffer) => {
      answer += d.toString('latin1')
      if (answer.length > MAX_ANSWER) finish()
    })
    sock.on('close', finish)
    sock.on('error', finish)
  })
