import t, { type Test } from 'tap'
import { startZk } from '../helpers/zk.js'
import { connectTestZk, zkErrorCode, ZkCode } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import { DRAIN_ROOT, drainPath } from '../../src/discovery/zk-drain-marks.js'
import type { HiveHaProxy } from '../../src/proxy.js'

// Drain marks of ZooKeeper routes live in ZooKeeper (design.md decision 11): every proxy routing
// to the same registry sees them, including one started after the mark was set.

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

let nsSeq = 0
const nextNs = (): string => `drainns${++nsSeq}`
const zkTarget = (namespace: string) => ({
  kind: 'zookeeper' as const,
  quorum: zk.connectString,
  namespace,
})

async function stubs(t: Test, ids: string[]): Promise<Hs2Stub[]> {
  const out: Hs2Stub[] = []
  for (const id of ids) {
    const s = await startHs2Stub({ id, auth: 'nosasl' })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

const stateOf = (p: HiveHaProxy, key: string): string | undefined =>
  p.snapshot().routes[0]!.backends.find((b) => b.key === key)?.state
const query = (port: number) =>
  queryBackendId({ host: '127.0.0.1', port, auth: 'nosasl', timeoutMs: 5000 })

t.test(
  'a drain on one proxy reaches every proxy on the same registry, and so does the undrain',
  async (t) => {
    const ns = nextNs()
    const [a, b] = await stubs(t, ['a', 'b'])
    for (const s of [a!, b!]) await registerHs2(writer, ns, s)
    const keyA = `127.0.0.1:${a!.port}`
    const p1 = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'one' })])
    const p2 = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'two' })])
    await waitFor('both proxies ready', () => p1.proxy.ready && p2.proxy.ready)

    const r = await p1.proxy.drain('one', keyA, true)
    t.same(r, { outcome: 'ok', draining: true, shared: true, error: undefined })
    t.same(
      await writer.getChildren(drainPath(ns)),
      [keyA],
      'the mark is a znode named after the backend',
    )
    await waitFor('the other proxy sees the mark', () => stateOf(p2.proxy, keyA) === 'draining')
    t.equal(stateOf(p1.proxy, keyA), 'draining')
    for (let i = 0; i < 4; i++)
      t.equal(
        await query(p2.ports[0]!),
        'b',
        'the other proxy sends no new client to the drained backend',
      )
    t.match(p2.proxy.snapshot().routes[0]!.drainMarks, {
      local: [],
      shared: { ready: true, keys: [keyA] },
    })

    // a proxy started after the drain never routes to it: readiness waits for the marks
    const p3 = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'three' })])
    await waitFor('late proxy ready', () => p3.proxy.ready)
    t.equal(stateOf(p3.proxy, keyA), 'draining', 'a late proxy reads the mark before it is ready')

    // undrain on another proxy than the one that drained clears it everywhere
    t.same(await p2.proxy.drain('two', keyA, false), {
      outcome: 'ok',
      draining: false,
      shared: true,
      error: undefined,
    })
    t.same(await writer.getChildren(drainPath(ns)), [])
    await waitFor('every proxy sees the undrain', () =>
      [p1, p2, p3].every((p) => stateOf(p.proxy, keyA) === 'up'),
    )
    const seen = new Set<string>()
    for (let i = 0; i < 4; i++) seen.add(await query(p1.ports[0]!))
    t.same([...seen].sort(), ['a', 'b'], 'the undrained backend gets clients again')
  },
)

t.test(
  'a mark created by hand (or by another tool) is honoured; unrelated namespaces are not affected',
  async (t) => {
    const ns = nextNs()
    const other = nextNs()
    const [a, b] = await stubs(t, ['a', 'b'])
    for (const s of [a!, b!]) {
      await registerHs2(writer, ns, s)
      await registerHs2(writer, other, s)
    }
    const keyB = `127.0.0.1:${b!.port}`
    const p = await startTestProxy(t, [
      hs2Route(zkTarget(ns), { name: 'x' }),
      hs2Route(zkTarget(other), { name: 'y' }),
    ])
    await waitFor('ready', () => p.proxy.ready)
    await writer.mkdirp(`${drainPath(ns)}/${keyB}`)
    await waitFor('the mark is seen', () => stateOf(p.proxy, keyB) === 'draining')
    const y = p.proxy.snapshot().routes[1]!
    t.equal(
      y.backends.find((x) => x.key === keyB)?.state,
      'up',
      'the same backend in another namespace is not drained',
    )
    t.equal(await query(p.ports[0]!), 'a')
    // the admin's undrain removes the hand-made mark
    t.same(await p.proxy.drain('x', keyB, false), {
      outcome: 'ok',
      draining: false,
      shared: true,
      error: undefined,
    })
    await waitFor('undrained', () => stateOf(p.proxy, keyB) === 'up')
    t.ok(await writer.exists(DRAIN_ROOT), 'the root stays; only marks come and go')
  },
)

t.test(
  'without ZooKeeper the mark still applies to this proxy, and the answer says it was not shared',
  async (t) => {
    const ns = nextNs()
    const [a, b] = await stubs(t, ['a', 'b'])
    for (const s of [a!, b!]) await registerHs2(writer, ns, s)
    const keyA = `127.0.0.1:${a!.port}`
    // a second server we can stop: the proxy's only quorum
    const zk2 = await startZk()
    t.teardown(() => zk2.close())
    const w2 = await connectTestZk(zk2.connectString)
    t.teardown(() => w2.close())
    for (const s of [a!, b!]) await registerHs2(w2, ns, s)
    const p = await startTestProxy(t, [
      hs2Route({ kind: 'zookeeper', quorum: zk2.connectString, namespace: ns }, { name: 'z' }),
    ])
    await waitFor('ready', () => p.proxy.ready)
    await zk2.close()
    const r = await p.proxy.drain('z', keyA, true)
    t.equal(r.outcome, 'ok')
    t.equal(r.shared, false)
    t.equal(r.draining, true, 'draining here, as the answer says')
    t.match(r.error, /^HHP_ERR_ZK_WRITE: create \/hive-ha-proxy\/drain\//)
    t.equal(stateOf(p.proxy, keyA), 'draining', 'applied here anyway')
    t.equal(await query(p.ports[0]!), 'b')
  },
)

t.test(
  'with digest auth the marks are writable only by proxies holding the credentials',
  async (t) => {
    const ns = nextNs()
    const [a, b, c] = await stubs(t, ['a', 'b', 'c'])
    for (const s of [a!, b!, c!]) await registerHs2(writer, ns, s)
    const [keyA, keyB] = [a!, b!].map((s) => `127.0.0.1:${s.port}`)
    const auth = { digestAuth: 'hive-ha-proxy:pw-for-the-test' }
    const p1 = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'one' })], {
      zookeeper: auth,
    })
    const p2 = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'two' })], {
      zookeeper: auth,
    })
    const anon = await startTestProxy(t, [hs2Route(zkTarget(ns), { name: 'anon' })])
    await waitFor('ready', () => p1.proxy.ready && p2.proxy.ready && anon.proxy.ready)

    t.same(await p1.proxy.drain('one', keyA, true), {
      outcome: 'ok',
      draining: true,
      shared: true,
      error: undefined,
    })
    await waitFor('every proxy sees it, the anonymous one too (world may read)', () =>
      [p2, anon].every((p) => stateOf(p.proxy, keyA) === 'draining'),
    )
    const removed = await writer.remove(`${drainPath(ns)}/${keyA}`).then(
      () => 'removed',
      (err: unknown) => zkErrorCode(err),
    )
    t.equal(removed, ZkCode.NO_AUTH, 'an anonymous client cannot remove the mark')

    const r = await anon.proxy.drain('anon', keyB, true)
    t.equal(r.shared, false, 'an anonymous proxy cannot write a shared mark')
    t.match(r.error, /^HHP_ERR_ZK_WRITE: create .*NO_AUTH/)
    t.equal(stateOf(anon.proxy, keyB), 'draining', 'it drains on that proxy alone')
    t.equal(stateOf(p1.proxy, keyB), 'up', 'and nowhere else')

    t.same(
      await p2.proxy.drain('two', keyA, false),
      { outcome: 'ok', draining: false, shared: true, error: undefined },
      'another proxy with the credentials can undrain',
    )
    await waitFor('undrained everywhere', () =>
      [p1, p2, anon].every((p) => stateOf(p.proxy, keyA) === 'up'),
    )
  },
)
