import t from 'tap'
import type { BackendInfo } from '../../src/backends/backend.js'
import { expandPrincipal, kerberosSummary, usesKerberos } from '../../src/backends/kerberos.js'

const b = (host: string, authentication?: string, principal?: string): BackendInfo => {
  const out: BackendInfo = { key: `${host}:10000`, host, port: 10000, source: `serverUri=${host}` }
  if (authentication !== undefined) out.authentication = authentication
  if (principal !== undefined) out.principal = principal
  return out
}

t.test(
  'expandPrincipal follows SecurityUtil: only service/_HOST@REALM, host lower-cased',
  async (t) => {
    t.equal(
      expandPrincipal('hive/_HOST@EXAMPLE.COM', 'HS2A.Example.com'),
      'hive/hs2a.example.com@EXAMPLE.COM',
    )
    t.equal(
      expandPrincipal('hive/hs2.example.com@EXAMPLE.COM', 'hs2a'),
      'hive/hs2.example.com@EXAMPLE.COM',
    )
    t.equal(expandPrincipal('hive@EXAMPLE.COM', 'hs2a'), 'hive@EXAMPLE.COM')
    t.equal(expandPrincipal('hive/_HOST', 'hs2a'), 'hive/_HOST', 'no realm: two parts, unchanged')
    t.equal(expandPrincipal('hive/x/_HOST@R', 'hs2a'), 'hive/x/_HOST@R')
  },
)

t.test('usesKerberos reads the Hive 4 method list case-insensitively', async (t) => {
  t.ok(usesKerberos({ authentication: 'KERBEROS' }))
  t.ok(usesKerberos({ authentication: 'ldap, kerberos' }))
  t.notOk(usesKerberos({ authentication: 'NONE' }))
  t.notOk(usesKerberos({ authentication: 'NOSASL', principal: undefined }))
  t.ok(usesKerberos({ principal: 'hive/_HOST@R' }), 'no method published but a principal: Kerberos')
})

t.test('nothing published (static list, legacy znodes): no summary', async (t) => {
  t.equal(kerberosSummary([b('h1'), b('h2')]), undefined)
  t.equal(kerberosSummary([]), undefined)
})

t.test('no Kerberos, one method: nothing to advise', async (t) => {
  const s = kerberosSummary([b('h1', 'NONE'), b('h2', 'NONE')])!
  t.match(s, {
    kerberosInstances: 0,
    publishing: 2,
    authentications: ['NONE'],
    principals: {},
    clientPrincipal: undefined,
    mismatch: false,
    mixedAuthentication: false,
    advice: undefined,
  })
})

t.test('the usual set-up: hive/_HOST@R everywhere is one principal per host', async (t) => {
  const s = kerberosSummary([
    b('hs2b.example.com', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM'),
    b('hs2a.example.com', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM'),
  ])!
  t.same(s.principals, {
    'hive/hs2a.example.com@EXAMPLE.COM': ['hs2a.example.com:10000'],
    'hive/hs2b.example.com@EXAMPLE.COM': ['hs2b.example.com:10000'],
  })
  t.equal(s.mismatch, true)
  t.equal(s.perHostPattern, 'hive/_HOST@EXAMPLE.COM')
  t.equal(s.clientPrincipal, undefined)
  t.match(s.advice, /per-host principals \(hive\/_HOST@EXAMPLE\.COM/)
  t.match(s.advice, /one shared service principal/)
  t.match(s.advice, /principal=<that principal>/)
  t.match(s.advice, /kerberosEnableCanonicalHostnameCheck=false/)
})

t.test('hosts written out differ only by host: the same per-host pattern', async (t) => {
  const s = kerberosSummary([
    b('hs2a.example.com', 'KERBEROS', 'hive/hs2a.example.com@EXAMPLE.COM'),
    b('hs2b.example.com', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM'),
  ])!
  t.equal(s.mismatch, true)
  t.equal(s.perHostPattern, 'hive/_HOST@EXAMPLE.COM')
})

t.test('different services or realms: a mismatch that is not per host', async (t) => {
  const s = kerberosSummary([
    b('h1', 'KERBEROS', 'hive/shared.example.com@EXAMPLE.COM'),
    b('h2', 'KERBEROS', 'hive/shared.example.com@OTHER.COM'),
  ])!
  t.equal(s.mismatch, true)
  t.equal(s.perHostPattern, undefined)
  t.match(
    s.advice,
    /different principals \(hive\/shared\.example\.com@EXAMPLE\.COM, hive\/shared\.example\.com@OTHER\.COM\)/,
  )
})

t.test('one shared principal: the one clients set', async (t) => {
  const s = kerberosSummary([
    b('h1', 'KERBEROS', 'hive/hs2.example.com@EXAMPLE.COM'),
    b('h2', 'KERBEROS', 'hive/hs2.example.com@EXAMPLE.COM'),
  ])!
  t.equal(s.mismatch, false)
  t.equal(s.clientPrincipal, 'hive/hs2.example.com@EXAMPLE.COM')
  t.same(s.principals, { 'hive/hs2.example.com@EXAMPLE.COM': ['h1:10000', 'h2:10000'] })
  t.match(s.advice, /set principal=hive\/hs2\.example\.com@EXAMPLE\.COM in their JDBC URL/)
})

t.test('a single _HOST instance: its expanded principal is what clients set', async (t) => {
  const s = kerberosSummary([b('HS2A.example.com', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM')])!
  t.equal(s.mismatch, false)
  t.equal(s.clientPrincipal, 'hive/hs2a.example.com@EXAMPLE.COM')
})

t.test('Kerberos next to NONE: mixed methods are said', async (t) => {
  const s = kerberosSummary([b('h1', 'KERBEROS', 'hive/hs2.example.com@R'), b('h2', 'NONE')])!
  t.equal(s.mismatch, false)
  t.equal(s.mixedAuthentication, true)
  t.same(s.authentications, ['KERBEROS', 'NONE'])
  t.match(s.advice, /different authentication methods \(KERBEROS, NONE\)/)
})

t.test('Kerberos without a published principal', async (t) => {
  const s = kerberosSummary([b('h1', 'KERBEROS'), b('h2', 'KERBEROS', 'hive/x@R')])!
  t.equal(s.mismatch, true, 'one publishes none: the client cannot learn it from both')
  const none = kerberosSummary([b('h1', 'KERBEROS')])!
  t.equal(none.clientPrincipal, undefined)
  t.match(none.advice, /publish no principal/)
})
