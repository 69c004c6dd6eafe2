import t from 'tap'
import { affinitySetCookie, affinityValue, readCookie } from '../../src/http/cookie.js'

t.test('readCookie finds a pair by its whole name, wherever it stands', async (t) => {
  t.equal(readCookie('hhp=abc', 'hhp'), 'abc')
  t.equal(readCookie('a=1; hhp=abc; b=2', 'hhp'), 'abc')
  t.equal(readCookie('a=1;hhp=abc', 'hhp'), 'abc', 'no space after the semicolon')
  t.equal(readCookie('a=1;  hhp = abc ;b=2', 'hhp'), 'abc', 'spaces around name and value')
  t.equal(readCookie(['a=1', 'hhp=x'], 'hhp'), 'x', 'several Cookie headers')
  t.equal(readCookie('hhp=', 'hhp'), '', 'an empty value')
})

t.test(
  'readCookie does not take a name that only contains or ends with the one asked',
  async (t) => {
    t.equal(readCookie('xhhp=1', 'hhp'), undefined)
    t.equal(readCookie('hhpx=1', 'hhp'), undefined)
    t.equal(readCookie('a=hhp=1', 'hhp'), undefined, 'inside another value')
    t.equal(readCookie('xhhp=1; hhp=2', 'hhp'), '2', 'the real one after a look-alike')
    t.equal(readCookie(undefined, 'hhp'), undefined)
    t.equal(readCookie('a=1; b=2', 'hhp'), undefined)
  },
)

t.test('the affinity cookie: stable per backend, opaque, HttpOnly', async (t) => {
  t.equal(affinityValue('h1:10001'), affinityValue('h1:10001'))
  t.not(affinityValue('h1:10001'), affinityValue('h2:10001'))
  t.notMatch(affinityValue('h1:10001'), /h1/)
  t.equal(affinitySetCookie('hhp', 'v'), 'hhp=v; Path=/; HttpOnly')
})
