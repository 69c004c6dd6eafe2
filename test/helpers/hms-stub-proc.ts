import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { StartHmsStubOptions } from './hms-stub.js'

export interface HmsStubStats {
  /** TCP connections accepted */
  connections: number
  /** open now */
  active: number
  /** fb303 getStatus calls received */
  getStatus: number
  /** the stub's connection numbers those calls came on */
  getStatusConns: number[]
}

/** A metastore stub in a child process (hms-stub-child.ts), which a test can freeze. */
export interface HmsStubProcess {
  host: string
  port: number
  /** SIGSTOP: the kernel keeps accepting connections, nothing is answered */
  pause(): void
  /** SIGCONT */
  resume(): void
  /** the stub's counts (only while it is not paused) */
  stats(): Promise<HmsStubStats>
  close(): Promise<void>
}

const CHILD = fileURLToPath(new URL('./hms-stub-child.ts', import.meta.url))

/**
 * Forks the stub with the TypeScript loader this test runs under (tap's, from execArgv); loopback
 * only. The child is killed at close, paused or not.
 */
export async function spawnHmsStub(opts: StartHmsStubOptions): Promise<HmsStubProcess> {
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'))
  if (loader.length === 0)
    throw new Error('spawnHmsStub needs the TypeScript loader of tap (run it under npx tap)')
  const child: ChildProcess = fork(CHILD, [JSON.stringify(opts)], {
    execArgv: loader,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = once(child, 'exit')
  const [first] = (await Promise.race([
    once(child, 'message'),
    exited.then(() => {
      throw new Error('the metastore stub process exited before listening')
    }),
  ])) as [{ port: number }]
  let paused = false
  return {
    host: '127.0.0.1',
    port: first.port,
    pause() {
      paused = true
      child.kill('SIGSTOP')
    },
    resume() {
      paused = false
      child.kill('SIGCONT')
    },
    async stats() {
      if (paused) throw new Error('the stub is paused')
      const reply = once(child, 'message') as Promise<[{ stats: HmsStubStats }]>
      child.send('stats')
      const [m] = await reply
      return m.stats
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}
