/**
 * What kind of stream a metastore client speaks, from its first bytes (design.md decision 1):
 * - `0x80 0x01`: strict binary Thrift, unframed;
 * - `0x82`: compact Thrift, unframed;
 * - 4-byte big-endian length, then `0x80 0x01` or `0x82`: framed (binary or compact);
 * - status byte 0x01..0x05 + 4-byte length: a SASL negotiation (Kerberos, delegation token, PLAIN);
 * - anything else: unknown.
 * SASL and unknown streams are byte-piped. A framed length whose first byte is 1..5 (messages of
 * 16 MiB and more) looks like SASL at first, so the protocol bytes after the length decide.
 */
export type StreamKind =
  | { kind: 'thrift'; protocol: 'binary' | 'compact'; framed: boolean }
  | { kind: 'sasl' }
  | { kind: 'unknown' }

/** Bytes needed to decide in the worst case. */
export const DETECT_BYTES = 6

/** undefined = need more bytes (call again with more, or decide on EOF with `final`). */
export function detectStream(b: Buffer, final = false): StreamKind | undefined {
  if (b.length === 0) return final ? { kind: 'unknown' } : undefined
  const b0 = b[0] as number
  if (b0 === 0x82) return { kind: 'thrift', protocol: 'compact', framed: false }
  if (b0 === 0x80) {
    if (b.length < 2) return final ? { kind: 'unknown' } : undefined
    return b[1] === 0x01
      ? { kind: 'thrift', protocol: 'binary', framed: false }
      : { kind: 'unknown' }
  }
  if (b.length < 5) return final ? { kind: b0 >= 1 && b0 <= 5 ? 'sasl' : 'unknown' } : undefined
  const b4 = b[4] as number
  if (b4 === 0x82) return { kind: 'thrift', protocol: 'compact', framed: true }
  if (b4 === 0x80) {
    if (b.length < 6) return final ? { kind: 'unknown' } : undefined
    if (b[5] === 0x01) return { kind: 'thrift', protocol: 'binary', framed: true }
  }
  return b0 >= 1 && b0 <= 5 ? { kind: 'sasl' } : { kind: 'unknown' }
}
