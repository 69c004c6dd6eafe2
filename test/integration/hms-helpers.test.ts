/**
 * Proves the Hive Metastore test harness works, with no proxy involved: the hand-written IDL
 * (hms-idl.ts), the metastore stub (hms-stub.ts) and the thrift-based client (hms-client.ts), in all
 * four wire formats a metastore can be configured for (binary/compact x unframed/framed).
 */
import net from 'node:net'
import t from 'tap'
import { createHmsStore, startHmsStub } from '../helpers/hms-stub.js'
import {
  connectHms,
  rawConnect,
  saslStartBytes,
  type HmsClient,
  type RawConnection,
} from '../helpers/hms-client.js'
import {
  AppExceptionType,
  HmsService,
  MessageType,
  encodeCall,
  encodeReply,
  protocolClass,
  splitMessages,
  thrift,
  transportClass,
  type HmsHandler,
  type HmsMessage,
  type WireFormat,
} from '../helpers/hms-idl.js'

const HOST = '127.0.0.1'
const MODES: Array<Required<WireFormat>> = [
  { protocol: 'binary', framed: false },
  { protocol: 'binary', framed: true },
  { protocol: 'compact', framed: false },
  { protocol: 'compact', framed: true },
]

/** poll `check` until true, at most `timeoutMs` */
async function waitFor(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** the whole messages a raw connection received, waiting until there are `n` (bounded) */
async function rawMessages(
  raw: RawConnection,
  wire: WireFormat,
  n: number,
  timeoutMs = 3000,
): Promise<HmsMessage[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { messages } = splitMessages(raw.data(), wire)
    if (messages.length >= n) return messages
    const left = deadline - Date.now()
    if (left <= 0 || raw.closed) throw new Error(`expected ${n} messages, got ${messages.length}`)
    await raw.waitForBytes(raw.data().length + 1, left).catch(() => undefined)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

for (const mode of MODES) {
  const label = `${mode.protocol} ${mode.framed ? 'framed' : 'unframed'}`
  const tag = `${mode.protocol}_${mode.framed ? 'framed' : 'unframed'}`

  t.test(`client -> stub, ${label}`, async (t) => {
    const stub = await startHmsStub({ id: `hms-${tag}`, ...mode, databases: ['default', 'sales'] })
    t.teardown(() => stub.close())
    const clients: HmsClient[] = []
    const raws: RawConnection[] = []
    t.teardown(async () => {
      for (const r of raws) r.close()
      await Promise.all(clients.map((c) => c.close()))
    })
    const connect = async (): Promise<HmsClient> => {
      const c = await connectHms({ host: HOST, port: stub.port, ...mode, timeoutMs: 3000 })
      clients.push(c)
      return c
    }
    const raw = async (): Promise<RawConnection> => {
      const r = await rawConnect(HOST, stub.port, { lifetimeMs: 5000 })
      raws.push(r)
      return r
    }

    const c = await connect()

    await t.test('set_ugi, then get_database shows the user and the stub id', async (t) => {
      const before = await c.getDatabase('default')
      t.equal(before.description, stub.id, 'description = the id of the stub that answered')
      t.notOk(before.parameters && 'ugi' in before.parameters, 'no ugi before set_ugi')

      t.same(
        await c.setUgi('alice', ['staff', 'hive']),
        ['staff', 'hive', 'alice'],
        'set_ugi answers groups + user',
      )
      const db = await c.getDatabase('sales')
      t.same(db, {
        name: 'sales',
        description: stub.id,
        locationUri: 'file:/warehouse/sales.db',
        parameters: { ugi: 'alice' },
      })

      const calls = stub.callsOf('get_database')
      t.equal(calls.length, 2)
      t.match(calls[1], {
        conn: 1,
        method: 'get_database',
        type: MessageType.CALL,
        args: { name: 'sales' },
        ugi: 'alice',
        conf: {},
      })
      t.equal(calls[0]?.ugi, undefined)
      t.ok(calls[1]!.seqid > calls[0]!.seqid, 'seqids increase')
      t.equal(stub.calls[0]?.seqid, 1, 'the first call has seqid 1')
    })

    await t.test('setMetaConf is per-connection state, visible in get_database', async (t) => {
      await c.setMetaConf('metastore.try.direct.sql', 'false')
      await c.setMetaConf('hive.metastore.batch.retrieve.max', '50')
      t.equal(await c.getMetaConf('metastore.try.direct.sql'), 'false')
      t.equal(await c.getMetaConf('not.set'), '')
      const db = await c.getDatabase('default')
      t.same(db.parameters, {
        ugi: 'alice',
        'metastore.try.direct.sql': 'false',
        'hive.metastore.batch.retrieve.max': '50',
      })
      t.same(stub.calls.at(-1)?.conf, {
        'metastore.try.direct.sql': 'false',
        'hive.metastore.batch.retrieve.max': '50',
      })

      const other = await connect()
      t.same(
        (await other.getDatabase('default')).parameters,
        {},
        'another connection has neither ugi nor overrides',
      )
      t.equal(await other.getMetaConf('metastore.try.direct.sql'), '')
      t.equal(stub.calls.at(-1)?.conn, 2)
    })

    await t.test('create_database twice: the second gets AlreadyExistsException', async (t) => {
      const name = `db_${tag}`
      t.equal(
        await c.createDatabase({
          name,
          description: 'made by a test',
          parameters: { owner: 'alice' },
        }),
        undefined,
      )
      await t.rejects(c.createDatabase({ name }), {
        code: 'HMS_EXCEPTION',
        thriftException: 'AlreadyExistsException',
        thriftMessage: `Database ${name} already exists`,
      })
      t.same(
        await c.getAllDatabases(),
        [`db_${tag}`, 'default', 'sales'].sort(),
        'connection still usable; get_all_databases sorted',
      )
      const db = await c.getDatabase(name)
      t.same(db.parameters, {
        owner: 'alice',
        created_by: stub.id,
        ugi: 'alice',
        'metastore.try.direct.sql': 'false',
        'hive.metastore.batch.retrieve.max': '50',
      })
      await t.rejects(c.getDatabase('nope'), {
        code: 'HMS_EXCEPTION',
        thriftException: 'NoSuchObjectException',
      })
      await t.rejects(c.getPartitions('nope', 't', 1), {
        code: 'HMS_EXCEPTION',
        thriftException: 'NoSuchObjectException',
      })
    })

    await t.test('get_partitions: a large answer (5000 partitions) decodes', async (t) => {
      const t0 = Date.now()
      const parts = await c.getPartitions('sales', 'orders', 5000)
      t.comment(`5000 partitions in ${Date.now() - t0} ms`)
      t.equal(parts.length, 5000)
      t.same(parts[4999], {
        values: ['2024-01-01', '4999'],
        dbName: 'sales',
        tableName: 'orders',
        createTime: 1_700_004_999,
        lastAccessTime: 0,
        sd: {
          cols: [
            { name: 'id', type: 'bigint', comment: 'row id' },
            { name: 'payload', type: 'string', comment: '' },
          ],
          location: 'file:/warehouse/sales.db/orders/ds=2024-01-01/part=4999',
          compressed: false,
          numBuckets: -1,
          parameters: {},
        },
        parameters: { transient_lastDdlTime: '1700004999', backend: stub.id },
      })
      t.same((await c.getPartitions('sales', 'orders', 0)).length, 0)
    })

    await t.test(
      'unknown method: TApplicationException UNKNOWN_METHOD, connection stays usable',
      async (t) => {
        await t.rejects(c.call('get_table', { dbname: 'x' }), {
          code: 'HMS_APP_EXCEPTION',
          appException: AppExceptionType.UNKNOWN_METHOD,
        })
        t.same(await c.getAllDatabases(), [`db_${tag}`, 'default', 'sales'].sort())
        const sent = stub.calls.length
        await t.rejects(
          c.call('set_ugi', { user_name: 'x', group_names: 5 }),
          { code: 'HMS_ERROR', message: /cannot encode/ },
          'args that do not fit the IDL',
        )
        t.equal(stub.calls.length, sent, 'nothing was sent')
        t.same(
          await c.getAllDatabases(),
          [`db_${tag}`, 'default', 'sales'].sort(),
          'and the stream is clean',
        )
      },
    )

    await t.test('shutdown is oneway: no reply, the connection stays usable', async (t) => {
      const call = encodeCall('shutdown', {}, 7, mode)
      const head = mode.framed ? call.subarray(4) : call
      if (mode.protocol === 'binary')
        t.same(
          [...head.subarray(0, 4)],
          [0x80, 0x01, 0x00, MessageType.ONEWAY],
          'binary envelope 80 01 00 04',
        )
      else t.same([...head.subarray(0, 2)], [0x82, 0x81], 'compact envelope 82 81')
      if (mode.framed) t.equal(call.readInt32BE(0), call.length - 4, 'frame length')

      await c.shutdown()
      t.equal(
        await c.getMetaConf('metastore.try.direct.sql'),
        'false',
        'connection usable, state kept',
      )
      const sd = stub.callsOf('shutdown')
      t.equal(sd.length, 1)
      t.match(sd[0], { conn: 1, type: MessageType.ONEWAY, ugi: 'alice' })

      // on the wire: shutdown (ONEWAY, then as CALL) followed by a call — the only replies are the calls'
      const r = await raw()
      r.socket.write(Buffer.concat([call, encodeCall('get_all_databases', {}, 8, mode)]))
      r.socket.write(
        Buffer.concat([
          encodeCall('shutdown', {}, 9, mode, MessageType.CALL),
          encodeCall('getMetaConf', { key: 'k' }, 10, mode),
        ]),
      )
      const msgs = await rawMessages(r, mode, 2)
      await sleep(50)
      const all = splitMessages(r.data(), mode)
      t.equal(all.messages.length, 2, 'no reply to either shutdown')
      t.equal(all.rest.length, 0)
      t.match(msgs[0], {
        name: 'get_all_databases',
        type: MessageType.REPLY,
        seqid: 8,
        result: { success: [`db_${tag}`, 'default', 'sales'].sort() },
      })
      t.match(msgs[1], {
        name: 'getMetaConf',
        type: MessageType.REPLY,
        seqid: 10,
        result: { success: '' },
      })
      t.same(
        stub.callsOf('shutdown').map((x) => x.type),
        [MessageType.ONEWAY, MessageType.ONEWAY, MessageType.CALL],
      )
    })

    await t.test("failNext('close'): the call rejects promptly; the call did run", async (t) => {
      const victim = await connect()
      stub.failNext('create_database', 'close')
      const t0 = Date.now()
      await t.rejects(victim.createDatabase({ name: `lost_reply_${tag}` }), {
        code: 'HMS_CLOSED',
        method: 'create_database',
      })
      // HMS_CLOSED, not the HMS_TIMEOUT of timeoutMs: the close itself ended the call (no time
      // bound asserted, a busy machine is not a failure)
      t.comment(`rejected in ${Date.now() - t0} ms`)
      t.ok(victim.closed)
      await t.rejects(victim.getAllDatabases(), { code: 'HMS_CLOSED' }, 'later calls fail at once')
      t.equal(stub.calls.at(-1)?.failed, 'close')
      t.ok(
        stub.store.has(`lost_reply_${tag}`),
        'the create was executed before the connection died',
      )
      await t.rejects(
        c.createDatabase({ name: `lost_reply_${tag}` }),
        { code: 'HMS_EXCEPTION', thriftException: 'AlreadyExistsException' },
        'so a re-send is detectable',
      )
    })

    await t.test(
      "failNext('half'): part of the reply, then close; the call rejects promptly",
      async (t) => {
        const victim = await connect()
        stub.failNext('get_partitions', 'half')
        const t0 = Date.now()
        await t.rejects(victim.getPartitions('sales', 'orders', 2000), { code: 'HMS_CLOSED' })
        // HMS_CLOSED, not the HMS_TIMEOUT of timeoutMs: the close itself ended the call
        t.comment(`rejected in ${Date.now() - t0} ms`)
        t.ok(victim.closed)

        const r = await raw()
        stub.failNext('get_all_databases', 'half')
        r.socket.write(encodeCall('get_all_databases', {}, 1, mode))
        const got = await r.received
        const split = splitMessages(got, mode)
        t.ok(got.length > 0, `received ${got.length} bytes`)
        t.equal(split.messages.length, 0, 'no whole message')
        t.equal(split.rest.length, got.length)
      },
    )

    await t.test("failNext('drop'): closed before the call runs", async (t) => {
      const victim = await connect()
      stub.failNext('create_database', 'drop')
      await t.rejects(victim.createDatabase({ name: `dropped_${tag}` }), { code: 'HMS_CLOSED' })
      t.notOk(stub.store.has(`dropped_${tag}`))
      t.equal(stub.calls.at(-1)?.failed, 'drop')
    })

    await t.test('connections are counted and released', async (t) => {
      t.ok(stub.connections >= 6, `${stub.connections} connections`)
      await Promise.all(clients.map((x) => x.close()))
      for (const r of raws) r.close()
      await waitFor('stub connections to close', () => stub.activeConnections === 0)
      t.equal(stub.activeConnections, 0)
      t.same(stub.protocolErrors, [])
    })
  })
}

t.test('SASL start bytes are rejected by the (non-SASL) stub', async (t) => {
  const b = saslStartBytes()
  t.equal(b[0], 0x01, 'START')
  t.equal(b.readUInt32BE(1), 6)
  t.equal(b.subarray(5, 11).toString(), 'GSSAPI')
  t.equal(b[11], 0x02, 'OK with the initial token')
  t.equal(b.readUInt32BE(12), b.length - 16)
  t.equal(saslStartBytes('PLAIN').subarray(5, 10).toString(), 'PLAIN')

  const stub = await startHmsStub({ id: 'hms-sasl' })
  t.teardown(() => stub.close())
  const r = await rawConnect(HOST, stub.port, { lifetimeMs: 3000 })
  t.teardown(() => r.close())
  r.socket.write(b)
  t.ok(await r.waitForClose(2000), 'the stub closes the connection')
  t.equal((await r.received).length, 0)
  t.match(stub.protocolErrors, [/conn 1: .*(version|protocol)/i])
})

t.test('two stubs sharing one store (one RDBMS behind several metastores)', async (t) => {
  const store = createHmsStore(['default'])
  const a = await startHmsStub({ id: 'hms-a', store })
  t.teardown(() => a.close())
  const b = await startHmsStub({ id: 'hms-b', store })
  t.teardown(() => b.close())
  const ca = await connectHms({ host: HOST, port: a.port, timeoutMs: 2000 })
  t.teardown(() => ca.close())
  const cb = await connectHms({ host: HOST, port: b.port, timeoutMs: 2000 })
  t.teardown(() => cb.close())
  await ca.createDatabase({ name: 'shared' })
  t.match(await cb.getDatabase('shared'), {
    description: 'hms-b',
    parameters: { created_by: 'hms-a' },
  })
  await t.rejects(cb.createDatabase({ name: 'shared' }), {
    code: 'HMS_EXCEPTION',
    thriftException: 'AlreadyExistsException',
  })
})

t.test('client bounds: connect refused, no reply', async (t) => {
  // a port with nothing listening
  const probe = net.createServer()
  await new Promise<void>((r) => probe.listen(0, HOST, r))
  const freePort = (probe.address() as net.AddressInfo).port
  await new Promise<void>((r) => probe.close(() => r()))
  await t.rejects(connectHms({ host: HOST, port: freePort, timeoutMs: 1000 }), {
    code: 'HMS_CONNECT',
  })

  // a server that accepts and never answers
  const silent = new Set<net.Socket>()
  const server = net.createServer((s) => {
    silent.add(s)
    s.on('error', () => {})
    s.on('close', () => silent.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, HOST, r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of silent) s.destroy()
        server.close(() => r())
      }),
  )
  const c = await connectHms({
    host: HOST,
    port: (server.address() as net.AddressInfo).port,
    timeoutMs: 300,
  })
  t.teardown(() => c.close())
  const t0 = Date.now()
  await t.rejects(c.getAllDatabases(), { code: 'HMS_TIMEOUT', method: 'get_all_databases' })
  const took = Date.now() - t0
  // the timeout, not an early give-up; no upper bound (a busy machine is not a failure)
  t.ok(took >= 250, `timed out after ${took} ms`)
  await waitFor('client to close', () => c.closed, 1000)
  await t.rejects(c.getAllDatabases(), { code: 'HMS_CLOSED' })
})

t.test('client checks reply seqids and method names, like TServiceClient', async (t) => {
  // a scripted server: binary unframed, answers each call with whatever `answer` returns
  let answer: (m: HmsMessage) => Buffer = () => Buffer.alloc(0)
  const socks = new Set<net.Socket>()
  const server = net.createServer((s) => {
    socks.add(s)
    s.on('close', () => socks.delete(s))
    s.on('error', () => {})
    let buf: Buffer = Buffer.alloc(0)
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const { messages, rest } = splitMessages(buf)
      buf = rest
      for (const m of messages) s.write(answer(m))
    })
  })
  await new Promise<void>((r) => server.listen(0, HOST, r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy()
        server.close(() => r())
      }),
  )
  const port = (server.address() as net.AddressInfo).port

  const c1 = await connectHms({ host: HOST, port, timeoutMs: 2000 })
  t.teardown(() => c1.close())
  answer = (m) => encodeReply(m.name, m.seqid + 100, { success: ['x'] })
  await t.rejects(c1.getAllDatabases(), { code: 'HMS_ERROR', message: /BAD_SEQUENCE_ID/ })
  t.match(c1.unexpectedReplies, [
    { name: 'get_all_databases', seqid: 101, type: MessageType.REPLY },
  ])
  await waitFor('client to close', () => c1.closed, 1000)

  const c2 = await connectHms({ host: HOST, port, timeoutMs: 2000 })
  t.teardown(() => c2.close())
  answer = (m) => encodeReply(m.name, m.seqid, { success: 'v' })
  t.equal(await c2.getMetaConf('k'), 'v')
  answer = (m) => encodeReply('getMetaConf', m.seqid, { success: 'v' })
  await t.rejects(c2.getAllDatabases(), {
    code: 'HMS_APP_EXCEPTION',
    appException: AppExceptionType.WRONG_METHOD_NAME,
  })
})

t.test("the IDL's processor works under thrift's own server (createServer)", async (t) => {
  const handler: HmsHandler = {
    get_all_databases: (_a, reply) => reply(null, ['x', 'y']),
    get_database: (a, reply) =>
      reply(null, { name: a.name, description: 'thrift-server', parameters: {} }),
  }
  for (const mode of [MODES[0]!, MODES[3]!]) {
    const server = thrift.createServer(HmsService, handler, {
      transport: transportClass(mode.framed),
      protocol: protocolClass(mode.protocol),
    })
    const socks = new Set<net.Socket>()
    server.on('connection', (s: net.Socket) => {
      socks.add(s)
      s.on('close', () => socks.delete(s))
    })
    await new Promise<void>((r) => server.listen(0, HOST, r))
    const c = await connectHms({
      host: HOST,
      port: (server.address() as net.AddressInfo).port,
      ...mode,
      timeoutMs: 2000,
    })
    t.same(await c.getAllDatabases(), ['x', 'y'])
    t.match(await c.getDatabase('d'), { name: 'd', description: 'thrift-server' })
    await t.rejects(
      c.getMetaConf('k'),
      { code: 'HMS_APP_EXCEPTION', appException: AppExceptionType.UNKNOWN_METHOD },
      'missing handler: UNKNOWN_METHOD, type kept on the wire',
    )
    await c.close()
    for (const s of socks) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  }
})
