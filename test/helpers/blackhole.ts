import { spawn } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'

/**
 * A loopback port that never completes a TCP handshake: a listening socket (in a python3 child,
 * since Node always accepts) with a backlog of 0 that never calls accept(), its queue filled by two
 * parked connections. Further SYNs are dropped by the kernel, so a connect to it hangs until the
 * caller's own timeout — a real black hole, loopback only.
 */
export async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const py = spawn(
    'python3',
    [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  const [line] = (await once(py.stdout, 'data')) as [Buffer]
  const port = Number(line.toString().trim())
  const parked: net.Socket[] = []
  // Fill the accept queue; each of these completes (the kernel answers while the queue has room).
  for (let i = 0; i < 8; i++) {
    const s = net.connect({ port, host: '127.0.0.1' })
    s.on('error', () => {})
    parked.push(s)
    const ok = await Promise.race([
      once(s, 'connect').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
    ])
    if (!ok) break
  }
  return {
    port,
    close: async () => {
      for (const s of parked) s.destroy()
      py.stdin.end()
      if (py.exitCode === null) await once(py, 'exit')
    },
  }
}
