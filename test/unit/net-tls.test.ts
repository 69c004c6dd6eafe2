/**
 * The pure parts of net/tls.ts: which backends get TLS, the name checked and sent as SNI, and
 * which connect failures a certificate caused (the handshakes themselves: integration/tls.test.ts).
 */
import t from 'tap'
import {
  BackendTls,
  backendUsesTls,
  certificateFailure,
  certificateFix,
  sameBackendTls,
} from '../../src/net/tls.js'
import { connectFailed } from '../../src/net/dial.js'
import { PemFile, type BackendTlsConfig } from '../../src/config/types.js'

const cfg = (over: Partial<BackendTlsConfig> = {}): BackendTlsConfig => ({
  mode: 'auto',
  ca: undefined,
  serverName: undefined,
  cert: undefined,
  key: undefined,
  insecureSkipVerify: false,
  ...over,
})

t.test('which backends are dialled with TLS', async (t) => {
  t.equal(backendUsesTls(undefined, true), false, 'no backendTls block: never')
  t.equal(backendUsesTls(cfg({ mode: 'off' }), true), false)
  t.equal(backendUsesTls(cfg({ mode: 'on' }), undefined), true)
  t.equal(backendUsesTls(cfg({ mode: 'auto' }), true), true, 'auto: hive.server2.use.SSL=true')
  t.equal(backendUsesTls(cfg({ mode: 'auto' }), undefined), false, 'auto: registration silent')
})

t.test('the name checked and sent as SNI', async (t) => {
  const byName = new BackendTls(cfg()).connectOptions('hs2a.example.com')
  t.equal(byName.servername, 'hs2a.example.com', "the backend's own host")
  t.equal(byName.rejectUnauthorized, true)
  t.equal(byName.checkServerIdentity, undefined, "Node's own check")
  const byIp = new BackendTls(cfg()).connectOptions('10.0.0.7')
  t.equal(byIp.servername, undefined, 'no SNI for an IP address')
  const override = new BackendTls(cfg({ serverName: 'hs2.example.com' })).connectOptions('10.0.0.7')
  t.equal(override.servername, 'hs2.example.com', 'the override, for every backend')
  const ipOverride = new BackendTls(cfg({ serverName: '10.0.0.9' })).connectOptions('hs2a')
  t.equal(ipOverride.servername, undefined)
  t.type(ipOverride.checkServerIdentity, 'function', 'an IP override is checked by hand')
  t.equal(
    new BackendTls(cfg({ insecureSkipVerify: true })).connectOptions('h').rejectUnauthorized,
    false,
  )
})

t.test('certificate failures are told apart from other connect failures', async (t) => {
  const tlsErr = Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  })
  t.equal(certificateFailure(connectFailed('h:1', tlsErr)), 'ERR_TLS_CERT_ALTNAME_INVALID')
  t.equal(
    certificateFailure(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' })),
    'CERT_HAS_EXPIRED',
  )
  t.equal(
    certificateFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    undefined,
  )
  t.equal(certificateFailure(undefined), undefined)
  t.match(certificateFix('ERR_TLS_CERT_ALTNAME_INVALID'), /backendTls\.serverName/)
  t.match(certificateFix('CERT_HAS_EXPIRED'), /renew/)
  t.match(certificateFix('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), /backendTls\.ca/)
  t.match(certificateFix('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), /backendTls\.cert/)
})

t.test('a rotated CA under the same path is a change', async (t) => {
  const a = cfg({ ca: new PemFile('/ca.pem', 'one') })
  t.ok(sameBackendTls(a, cfg({ ca: new PemFile('/ca.pem', 'one') })))
  t.notOk(sameBackendTls(a, cfg({ ca: new PemFile('/ca.pem', 'two') })))
  t.notOk(sameBackendTls(a, undefined))
  t.ok(sameBackendTls(undefined, undefined))
  t.equal(JSON.stringify({ key: new PemFile('/k.pem', 'SECRET') }), '{"key":"/k.pem"}')
})

t.test("a backend's last TLS session is offered on the next connect to it", async (t) => {
  const b = new BackendTls(cfg({ mode: 'on' }))
  t.equal(b.connectOptions('h', 'h:1').session, undefined)
  b.keepSession('h:1', Buffer.from('s1'))
  t.same(b.connectOptions('h', 'h:1').session, Buffer.from('s1'))
  t.equal(b.connectOptions('h', 'h:2').session, undefined, 'per backend')
  t.equal(
    new BackendTls(cfg({ mode: 'on' })).connectOptions('h', 'h:1').session,
    undefined,
    'a reload starts afresh',
  )
})
