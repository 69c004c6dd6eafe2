/**
 * A real three-server (or n-server) ZooKeeper ensemble on loopback, for tests of what a client sees
 * when one member stops: every member is a QuorumPeerMain JVM with its own data dir, client port,
 * quorum port and election port, all on 127.0.0.1.
 *
 *   const ens = await startZkEnsemble(3)
 *   t.teardown(() => ens.close())
 *   ens.connectString            // '127.0.0.1:a,127.0.0.1:b,127.0.0.1:c'
 *   await ens.stop(i)            // one member down; the other two keep the quorum
 *
 * No readiness gate as in zk.ts: these tests stop members, they do not restart them under load.
 * Trap: a member's `srvr` answers "This ZooKeeper instance is not currently serving requests" until
 * the ensemble elected a leader, so readiness is "every member says Mode: leader|follower".
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  assertZookeeperInstalled,
  fourLetterWord,
  freePort,
  launchZkJvm,
  onProcessExit,
  tail,
  terminateJvm,
} from './zk.js'

export interface ZkMember {
  /** 1-based server id (`myid`) */
  id: number
  clientPort: number
  logFile: string
  readonly running: boolean
}

export interface ZkEnsemble {
  members: readonly ZkMember[]
  /** every member's client address, in member order */
  connectString: string
  /** the member index (0-based) whose client port is `port`, or -1 */
  indexOfPort(port: number): number
  /** stop member `i` (SIGTERM, wait for exit); idempotent */
  stop(i: number): Promise<void>
  /** stop every member and remove the temp dir; idempotent */
  close(): Promise<void>
}

const QUORUM_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain'
const READY_DEADLINE_MS = 30_000

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function startZkEnsemble(
  size = 3,
  opts: { logLevel?: 'error' | 'warn' | 'info' } = {},
): Promise<ZkEnsemble> {
  assertZookeeperInstalled()
  const dir = mkdtempSync(join(tmpdir(), 'hhp-zk-ens-'))
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  const unhookDir = onProcessExit(removeDir)
  const ports: { client: number; quorum: number; election: number }[] = []
  for (let i = 0; i < size; i++)
    ports.push({ client: await freePort(), quorum: await freePort(), election: await freePort() })
  const servers = ports.map(
    (p, i) => `server.${i + 1}=127.0.0.1:${p.quorum}:${p.election};127.0.0.1:${p.client}`,
  )

  const procs: (ChildProcess | undefined)[] = []
  const unhooks: (() => void)[] = []
  const members: ZkMember[] = ports.map((p, i) => {
    const own = join(dir, `s${i + 1}`)
    mkdirSync(join(own, 'data'), { recursive: true })
    writeFileSync(join(own, 'data', 'myid'), `${i + 1}\n`)
    writeFileSync(
      join(own, 'zoo.cfg'),
      [
        'tickTime=250',
        'initLimit=40',
        'syncLimit=20',
        `dataDir=${join(own, 'data')}`,
        `clientPort=${p.client}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        'minSessionTimeout=500',
        'maxSessionTimeout=60000',
        '4lw.commands.whitelist=srvr,ruok,mntr,stat,cons',
        'forceSync=no',
        ...servers,
        '',
      ].join('\n'),
    )
    return {
      id: i + 1,
      clientPort: p.client,
      logFile: join(own, 'zk.log'),
      get running() {
        const c = procs[i]
        return c !== undefined && c.exitCode === null && c.signalCode === null
      },
    }
  })

  const stop = async (i: number): Promise<void> => {
    const p = procs[i]
    if (!p) return
    await terminateJvm(p)
    procs[i] = undefined
    unhooks[i]?.()
  }
  const close = async (): Promise<void> => {
    await Promise.all(members.map((_, i) => stop(i)))
    removeDir()
    unhookDir()
  }

  members.forEach((m, i) => {
    const child = launchZkJvm(
      QUORUM_MAIN,
      join(dir, `s${i + 1}`, 'zoo.cfg'),
      m.logFile,
      opts.logLevel ?? 'warn',
    )
    procs[i] = child
    unhooks[i] = onProcessExit(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
  })

  const deadline = Date.now() + READY_DEADLINE_MS
  for (;;) {
    const dead = members.findIndex((m) => !m.running)
    if (dead >= 0) {
      const log = tail(members[dead]!.logFile)
      await close()
      throw new Error(`ZooKeeper ensemble member ${dead + 1} exited during startup; log:\n${log}`)
    }
    const modes = await Promise.all(members.map((m) => fourLetterWord(m.clientPort, 'srvr')))
    if (modes.every((r) => /Mode: (leader|follower)/.test(r))) break
    if (Date.now() > deadline) {
      const log = tail(members[0]!.logFile)
      await close()
      throw new Error(
        `ZooKeeper ensemble not serving within ${READY_DEADLINE_MS} ms; log of member 1:\n${log}`,
      )
    }
    await sleep(100)
  }

  return {
    members,
    connectString: members.map((m) => `127.0.0.1:${m.clientPort}`).join(','),
    indexOfPort: (port) => members.findIndex((m) => m.clientPort === port),
    stop,
    close,
  }
}
