// A full garbage collection in another Node process, asked through its inspector (the process runs
// with --inspect=127.0.0.1:0 and prints "Debugger listening on ws://..."): memory per object is
// read after it, so that garbage and the young generation's size do not count as the objects'.
import { WebSocket } from 'undici'

/** Runs HeapProfiler.collectGarbage twice in the process whose inspector is at `url` (ws://...). */
export async function collectGarbage(url, ms = 10_000) {
  const ws = new WebSocket(url)
  const timer = setTimeout(() => ws.close(), ms)
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve
      ws.onerror = () => reject(new Error(`inspector at ${url}: cannot connect`))
    })
    let id = 0
    const call = (method) =>
      new Promise((resolve, reject) => {
        const mine = ++id
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data)
          if (m.id !== mine) return
          if (m.error) reject(new Error(`inspector ${method}: ${m.error.message}`))
          else resolve(m.result)
        }
        ws.onclose = () => reject(new Error(`inspector closed during ${method}`))
        ws.send(JSON.stringify({ id: mine, method }))
      })
    await call('HeapProfiler.enable')
    await call('HeapProfiler.collectGarbage')
    await call('HeapProfiler.collectGarbage')
  } finally {
    clearTimeout(timer)
    ws.onclose = null
    ws.close()
  }
}

/** The inspector URL a process started with --inspect printed (from its captured lines). */
export function inspectorUrl(proc) {
  for (const l of proc.lines) {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(l)
    if (m) return m[1]
  }
  return undefined
}
