import t from 'tap'
import { startZkEnsemble, type ZkEnsemble } from '../helpers/zk-ensemble.js'
import { fourLetterWord } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'

// A real three-server ensemble with one member stopped: the member that holds the proxy's
// session, or the leader (then the remaining two elect a new one and refuse requests meanwhile).
// Either way the session moves to another member (same session id, no new client), the routing
// list is never empty while it moves, clients keep being routed, and watches fire afterwards.
// The probes must not mistake the client's own reconnect for a stuck client.
const NS = 'ensemble'
// two ensembles started and stopped: tap's per-file limit (.taprc, 120 s) would end the file
// before the subtests' own safety nets (120 s each) on a busy machine, so it is raised past them
t.setTimeout(300_000)

const keys = (p: HiveHaProxy): string[] =>
  p
    .snapshot()
    .routes[0]!.backends.filter((b) => b.state !== 'unlisted')
    .map((b) => b.key)

/** the member (0-based) whose `cons` lists the session, or -1 */
async function memberHolding(ens: ZkEnsemble, sessionHex: string): Promise<number> {
  const sid = BigInt(`0x${sessionHex}`)
  for (let i = 0; i < ens.members.length; i++) {
    if (!ens.members[i]!.running) continue
    const cons = await fourLetterWord(ens.members[i]!.clientPort, 'cons')
    for (const m of cons.matchAll(/sid=0x([0-9a-f]+)/g)) if (BigInt(`0x${m[1]}`) === sid) return i
  }
  return -1
}

async function leader(ens: ZkEnsemble): Promise<number> {
  for (let i = 0; i < ens.members.length; i++)
    if ((await fourLetterWord(ens.members[i]!.clientPort, 'srvr')).includes('Mode: leader'))
      return i
  return -1
}

for (const stopWhich of ['holder', 'leader'] as const) {
  t.test(
    `one of three servers stops (${stopWhich === 'holder' ? "the session's member" : 'the leader'}): same session, no gap in routing, watches go on`,
    { timeout: 120_000 },
    async (t) => {
      const ens = await startZkEnsemble(3)
      t.teardown(() => ens.close())
      const a = await startHs2Stub({ id: 'a' })
      const b = await startHs2Stub({ id: 'b' })
      t.teardown(() => Promise.all([a.close(), b.close()]).then(() => {}))

      const { proxy, ports, logs } = await startTestProxy(
        t,
        [hs2Route({ kind: 'zookeeper', quorum: ens.connectString, namespace: NS })],
        { zookeeper: { sessionTimeoutMs: 30_000 } },
      )
      const connected = () => logs.records.filter((r) => r.msg === 'zookeeper connected')
      await waitFor('proxy connected to the ensemble', () => connected().length === 1)
      const sessionId = String(connected()[0]!.sessionId)
      const generation = proxy.snapshot().zookeeper[0]!.generation
      const holder = await memberHolding(ens, sessionId)
      t.ok(holder >= 0, `the proxy's session ${sessionId} is found on member ${holder + 1}`)

      const lead = await leader(ens)
      const victim = stopWhich === 'holder' ? holder : lead
      t.comment(
        `session on member ${holder + 1}, leader is member ${lead + 1}, stopping member ${victim + 1}`,
      )
      // the writer (HS2's own registration) sits on a member that stays, so its ephemerals stay put
      const other = [0, 1, 2].find((i) => i !== victim && i !== holder) ?? -1
      const writer = await connectTestZk(`127.0.0.1:${ens.members[other]!.clientPort}`, {
        sessionTimeout: 30_000,
      })
      t.teardown(() => writer.close())
      await registerHs2(writer, NS, a)
      await waitFor('instance a listed', () => keys(proxy).length === 1)

      // watch the routing list every few ms while the member stops and the session moves
      let emptySeen = 0
      let samples = 0
      let watching = true
      const watcher = (async () => {
        while (watching && samples < 100_000) {
          samples++
          if (keys(proxy).length === 0) emptySeen++
          await new Promise((r) => setTimeout(r, 5))
        }
      })()

      const t0 = performance.now()
      await ens.stop(victim)
      await waitFor(
        'the session reconnected to another member',
        () => connected().length >= 2,
        20_000,
      )
      const moveMs = performance.now() - t0
      t.comment(`session reconnected ${moveMs.toFixed(0)} ms after the stop began`)
      const again = connected().at(-1)!
      t.equal(String(again.sessionId), sessionId, 'the same session id, not a new session')
      t.equal(proxy.snapshot().zookeeper[0]!.generation, generation, 'the same client generation')
      t.notOk(
        logs.records.some((r) => /session expired|replacing the client/.test(String(r.msg))),
        'no expiry and no client replacement',
      )
      const newHolder = await memberHolding(ens, sessionId)
      t.ok(newHolder >= 0 && newHolder !== victim, `now held by member ${newHolder + 1}`)

      t.equal(
        await queryBackendId({ host: '127.0.0.1', port: ports[0]!, timeoutMs: 10_000 }),
        'a',
        'a client is routed after the move',
      )
      // the watches were re-armed on the new member: a new registration shows up
      await registerHs2(writer, NS, b)
      await waitFor('instance b listed after the move', () => keys(proxy).length === 2)

      watching = false
      await watcher
      t.ok(samples > 10, `the routing list was sampled (${samples} times)`)
      t.equal(emptySeen, 0, 'the routing list was never empty while the session moved')
    },
  )
}
