/**
 * Certificates made at test time with Debian's openssl (EC P-256: fast to make), in a temporary
 * directory removed at teardown. Nothing secret is ever committed.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'

export interface Issued {
  cert: string
  key: string
}

export interface TestCa {
  dir: string
  /** the CA's certificate file */
  ca: string
  /** a certificate signed by this CA for `sans` (DNS names and IP addresses), usable both ways */
  issue(name: string, sans: readonly string[]): Issued
  /** a file's text */
  read(path: string): string
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A fresh CA named `cn`; `t.teardown` removes its directory. */
export function makeCa(t: Test, cn = 'hive-ha-proxy test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'hhp-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const prefix = cn.replace(/[^A-Za-z0-9]+/g, '-')
  const ca = join(dir, `${prefix}.crt`)
  const caKey = join(dir, `${prefix}.key`)
  openssl(
    ['req', '-x509', ...EC, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', `/CN=${cn}`]
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
  )
  return {
    dir,
    ca,
    issue(name, sans) {
      const base = join(dir, `${prefix}-${name}`)
      const ext = `${base}.ext`
      const alt = sans.map((s) => (/^[0-9.:]+$/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',')
      writeFileSync(
        ext,
        `subjectAltName=${alt}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`,
      )
      openssl(
        [
          'req',
          '-new',
          ...EC,
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.csr`,
          '-subj',
          `/CN=${name}`,
        ],
        dir,
      )
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          ca,
          '-CAkey',
          caKey,
          '-CAcreateserial',
        ].concat(['-out', `${base}.crt`, '-days', '2', '-extfile', ext]),
        dir,
      )
      chmodSync(`${base}.key`, 0o600)
      return { cert: `${base}.crt`, key: `${base}.key` }
    },
    read: (path) => readFileSync(path, 'utf8'),
  }
}
