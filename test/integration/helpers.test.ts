/**
 * Proves the test helpers work, with no proxy involved: a real ZooKeeper, znodes written exactly
 * like HiveServer2, HS2 stubs answered by the real hive-driver client.
 */
import net, { type Socket } from 'node:net'
import t from 'tap'
import zookeeper from 'node-zookeeper-client'
import { startZk } from '../helpers/zk.js'
import { connectTestZk, zkErrorCode, ZkCode } from '../helpers/zk-client.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { parseHs2ZnodeData, registerHa, registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'

const SERVER_URI_NAME = /^serverUri=127\.0\.0\.1:(\d+);version=4\.0\.0;sequence=(\d{10})$/

/** poll `check` until it returns true, at most `timeoutMs` */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('helpers: ZooKeeper, HS2 registration, HS2 stubs, hive-driver client', async (t) => {
  const zk = await startZk()
  t.teardown(() => zk.close())
  t.match(zk.connectString, /^127\.0\.0\.1:\d+$/)
  const zkPid = zk.pid
  t.ok(zkPid && isAlive(zkPid), 'ZooKeeper JVM is running')

  const writer = await connectTestZk(zk.connectString, { sessionTimeout: 10_000 })
  t.teardown(() => writer.close())

  const a = await startHs2Stub({ id: 'hs2-a' })
  t.teardown(() => a.close())
  const b = await startHs2Stub({ id: 'hs2-b', auth: 'plain', password: 'secret' })
  t.teardown(() => b.close())
  t.equal(a.auth, 'nosasl')
  t.equal(b.auth, 'plain')

  await t.test('registerHs2 writes znodes like HiveServer2', async (t) => {
    const pa = await registerHs2(writer, 'hiveserver2', a)
    const pb = await registerHs2(writer, 'hiveserver2', b)
    t.match(pa, /^\/hiveserver2\/serverUri=/)

    const children = (await writer.getChildren('/hiveserver2')).sort()
    t.equal(children.length, 2)
    for (const c of children)
      t.match(c, SERVER_URI_NAME, 'name = serverUri=host:port;version=v;sequence=<10 digits>')
    t.same(
      children.map((c) => Number(SERVER_URI_NAME.exec(c)?.[1])).sort(),
      [a.port, b.port].sort(),
    )

    const da = (await writer.getData(pa)).toString('utf8')
    t.notOk(da.endsWith(';'), 'no trailing separator (Guava Joiner)')
    t.same(parseHs2ZnodeData(da), {
      'hive.server2.instance.uri': `127.0.0.1:${a.port}`,
      'hive.server2.authentication': 'NOSASL',
      'hive.server2.transport.mode': 'binary',
      'hive.server2.thrift.bind.host': '127.0.0.1',
      'hive.server2.thrift.port': String(a.port),
      'hive.server2.thrift.sasl.qop': 'auth',
      'hive.server2.use.SSL': 'false',
    })
    const db = parseHs2ZnodeData((await writer.getData(pb)).toString('utf8'))
    t.equal(db['hive.server2.authentication'], 'NONE', 'SASL PLAIN stub publishes NONE')
    t.equal(db['hive.server2.thrift.port'], String(b.port))

    // variants in another namespace
    const http = parseHs2ZnodeData(
      (
        await writer.getData(await registerHs2(writer, 'hs2variants', a, { transportMode: 'http' }))
      ).toString(),
    )
    t.equal(http['hive.server2.transport.mode'], 'http')
    t.equal(http['hive.server2.thrift.port'], undefined, 'http-only: no binary port')
    t.equal(http['hive.server2.thrift.http.path'], 'cliservice')
    t.not(
      http['hive.server2.thrift.http.port'],
      String(a.port),
      'made-up http port differs from the binary port',
    )
    const all = parseHs2ZnodeData(
      (
        await writer.getData(await registerHs2(writer, 'hs2variants', a, { transportMode: 'all' }))
      ).toString(),
    )
    t.equal(all['hive.server2.thrift.port'], String(a.port))
    t.ok(all['hive.server2.thrift.http.port'])
    const legacyPath = await registerHs2(writer, 'hs2variants', b, {
      legacy: true,
      version: '3.1.3',
    })
    t.match(legacyPath, /\/serverUri=127\.0\.0\.1:\d+;version=3\.1\.3;sequence=\d{10}$/)
    t.equal((await writer.getData(legacyPath)).toString(), `127.0.0.1:${b.port}`)
    const seqs = (await writer.getChildren('/hs2variants')).map((c) => c.slice(-10)).sort()
    t.same(seqs, ['0000000000', '0000000001', '0000000002'], 'sequence counter per parent')
  })

  await t.test('hive-driver talks to the stubs directly', async (t) => {
    t.equal(await queryBackendId({ host: a.host, port: a.port }), 'hs2-a')
    t.equal(a.connections, 1)
    t.equal(a.sessions, 1)
    t.equal(
      await queryBackendId({
        host: b.host,
        port: b.port,
        auth: 'plain',
        user: 'alice',
        password: 'secret',
      }),
      'hs2-b',
    )
    t.equal(b.sessions, 1)
    t.same(b.users, ['alice'])

    await t.rejects(
      queryBackendId({
        host: b.host,
        port: b.port,
        auth: 'plain',
        user: 'alice',
        password: 'wrong',
      }),
      /Authentication error: Error validating the login/,
      'wrong PLAIN password is rejected',
    )
    t.equal(b.sessions, 1, 'no session after a failed login')

    // mismatched modes fail fast instead of hanging (gotcha H2)
    // (rejected by the server, not ended by the client's own timeout; no time bound asserted)
    const err = await queryBackendId({
      host: b.host,
      port: b.port,
      auth: 'nosasl',
      timeoutMs: 3000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { message: /queryBackendId/ }, 'NOSASL client against a SASL server is rejected')
    t.notMatch(String(err), /timed out/, 'by the server, not by its own timeout')

    // a server that accepts and never answers: bounded by timeoutMs
    const held = new Set<Socket>()
    const silent = net.createServer((s) => held.add(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
    const silentPort = (silent.address() as { port: number }).port
    await t.rejects(
      queryBackendId({ host: '127.0.0.1', port: silentPort, timeoutMs: 300 }),
      /timed out after 300 ms/,
    )
    await t.rejects(
      queryBackendId({ host: '127.0.0.1', port: silentPort, auth: 'plain', timeoutMs: 300 }),
      /timed out/,
    )
    for (const s of held) s.destroy()
    await new Promise<void>((r) => silent.close(() => r()))

    // nothing listening
    await t.rejects(
      queryBackendId({ host: '127.0.0.1', port: silentPort, timeoutMs: 2000 }),
      /queryBackendId/,
    )

    await waitFor(
      'stub sockets to close',
      async () => a.activeConnections === 0 && b.activeConnections === 0,
    )
  })

  await t.test('a stub can be restarted on the same port', async (t) => {
    const c = await startHs2Stub({ id: 'hs2-c' })
    const port = c.port
    t.equal(await queryBackendId({ host: c.host, port }), 'hs2-c')
    await c.close()
    await t.rejects(queryBackendId({ host: '127.0.0.1', port, timeoutMs: 2000 }))
    const c2 = await startHs2Stub({ id: 'hs2-c2', port })
    t.teardown(() => c2.close())
    t.equal(c2.port, port)
    t.equal(await queryBackendId({ host: c2.host, port }), 'hs2-c2')
  })

  await t.test(
    'registerHa writes ServiceRecord JSON and setLeader flips the endpoint',
    async (t) => {
      const ra = await registerHa(writer, 'hs2ActivePassiveHA', a, { leader: false })
      const rb = await registerHa(writer, 'hs2ActivePassiveHA', b, { leader: true })
      t.match(ra.path, /^\/hs2ActivePassiveHA-unsecure\/instances\/instance-\d{10}$/)
      const names = await writer.getChildren('/hs2ActivePassiveHA-unsecure/instances')
      t.equal(names.length, 2)

      const read = async (
        p: string,
      ): Promise<Record<string, unknown> & { internal: Array<Record<string, unknown>> }> =>
        JSON.parse((await writer.getData(p)).toString('utf8'))
      const recA = await read(ra.path)
      t.equal(recA.type, 'JSONServiceRecord')
      t.same(recA.external, [])
      t.same(recA.internal, [
        {
          api: 'passiveEndpoint',
          addressType: 'host/port',
          protocolType: 'hadoop/IPC',
          addresses: [{ host: '127.0.0.1', port: String(a.port) }],
        },
      ])
      t.equal(recA['hive.server2.thrift.bind.host'], '127.0.0.1')
      t.equal(recA['hive.server2.thrift.port'], String(a.port))
      t.equal(recA['hive.server2.transport.mode'], 'binary')
      t.equal(recA['hive.server2.instance.uri'], `127.0.0.1:${a.port}`)
      t.equal(recA['registry.unique.id'], ra.uniqueId)
      t.match(ra.uniqueId, /^[0-9a-f-]{36}$/)
      t.equal((await read(rb.path)).internal[0]?.api, 'activeEndpoint')

      await ra.setLeader(true)
      await rb.setLeader(false)
      const recA2 = await read(ra.path)
      t.equal(recA2.internal[0]?.api, 'activeEndpoint')
      t.equal(recA2['registry.unique.id'], ra.uniqueId, 'same instance id after leadership change')
      t.equal((await read(rb.path)).internal[0]?.api, 'passiveEndpoint')
    },
  )

  await t.test('closing the owning session removes its ephemeral znodes', async (t) => {
    const other = await connectTestZk(zk.connectString)
    t.teardown(() => other.close())
    const p = await registerHs2(other, 'hiveserver2', { host: '127.0.0.1', port: 1 })
    t.equal((await writer.getChildren('/hiveserver2')).length, 3)
    await other.close()
    t.equal(await writer.exists(p), false, 'gone as soon as close() resolved')
    t.equal((await writer.getChildren('/hiveserver2')).length, 2)
    await other.close() // idempotent

    // remove() and error codes (gotcha Z1)
    const q = await registerHs2(writer, 'hiveserver2', { host: '127.0.0.1', port: 2 })
    await writer.remove(q)
    const err = await writer.remove(q).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof Error)
    t.equal(zkErrorCode(err), ZkCode.NO_NODE)
  })

  await t.test(
    'ZooKeeper stop/start keeps data and sessions; restart with wipe empties it',
    async (t) => {
      await writer.mkdirp('/keep/me')
      await writer.setData('/keep/me', 'kept')
      const sessionBefore = writer.sessionId()

      await zk.stop()
      t.equal(zk.pid, undefined)
      t.notOk(isAlive(zkPid!), 'JVM gone after stop()')
      await zk.stop() // idempotent
      await t.rejects(
        connectTestZk(zk.connectString, { connectTimeoutMs: 500 }),
        /could not connect/,
      )

      await zk.start()
      const fresh = await connectTestZk(zk.connectString)
      t.teardown(() => fresh.close())
      t.equal(
        (await fresh.getData('/keep/me')).toString(),
        'kept',
        'persistent data survives stop/start',
      )
      // the writer reconnects with the same session within its timeout: its ephemerals survive (gotcha Z7)
      t.equal((await writer.getChildren('/hiveserver2')).length, 2)
      t.equal(writer.sessionId(), sessionBefore)
      await fresh.close()

      let expired = false
      writer.client.once('expired', () => (expired = true))
      await zk.restart({ wipe: true })
      const after = await connectTestZk(zk.connectString)
      t.teardown(() => after.close())
      t.equal(await after.exists('/keep'), false, 'wipe empties the data dir')
      t.equal(await after.exists('/hiveserver2'), false)
      const created = await after.create('/fresh', 'x', 'persistent')
      t.equal(created, '/fresh', 'server answers after the wipe')

      // Trap: the wiped server refuses the old client (it has seen a higher zxid), so the old client
      // is neither connected nor expired; once the new zxid passes the old one, it gets EXPIRED.
      t.equal(
        String(writer.client.getState()),
        String(zookeeper.State.DISCONNECTED),
        'old client refused, still disconnected',
      )
      t.equal(expired, false)
      let i = 0
      await waitFor(
        'the old session to expire',
        async () => {
          if (expired) return true
          await after.create(`/fresh/n${i++}`, '', 'persistent')
          return false
        },
        10_000,
      )
      t.pass(`old session expired after ${i} writes on the wiped server`)
      const c0 = Date.now()
      await writer.close()
      t.ok(Date.now() - c0 < 1000, 'close() of an expired client is immediate')
      await after.close()
    },
  )

  await t.test('close() stops the JVM', async (t) => {
    const pid = zk.pid
    t.ok(pid)
    await zk.close()
    t.notOk(isAlive(pid!), 'JVM gone after close()')
    await zk.close() // idempotent
  })
})

t.test('startZk direct mode: no readiness gate', async (t) => {
  const zk = await startZk({ direct: true })
  t.teardown(() => zk.close())
  t.equal(zk.port, zk.zkPort)
  const c = await connectTestZk(zk.connectString)
  t.teardown(() => c.close())
  t.same((await c.getChildren('/')).sort(), ['zookeeper'])
  await c.close()
  await zk.close()
})
