/**
 * Client bytes waiting for a backend: segments in arrival order, each with the call it belongs
 * to. Two parallel arrays reused for the connection's life, so queueing a request allocates
 * nothing per segment.
 */
export class SegmentQueue<Owner> {
  readonly #segs: Buffer[] = []
  readonly #owners: Owner[] = []

  get length(): number {
    return this.#segs.length
  }

  push(seg: Buffer, owner: Owner): void {
    this.#segs.push(seg)
    this.#owners.push(owner)
  }

  /** The i-th segment and its owner (0 <= i < length), for a loop that allocates nothing. */
  seg(i: number): Buffer {
    return this.#segs[i] as Buffer
  }

  owner(i: number): Owner {
    return this.#owners[i] as Owner
  }

  clear(): void {
    this.#segs.length = 0
    this.#owners.length = 0
  }

  /** Forgets the segments of `owner`, keeping the order of the others. */
  drop(owner: Owner): void {
    const segs = this.#segs
    const owners = this.#owners
    let k = 0
    for (let i = 0; i < segs.length; i++) {
      if (owners[i] === owner) continue
      segs[k] = segs[i] as Buffer
      owners[k] = owners[i] as Owner
      k++
    }
    segs.length = k
    owners.length = k
  }
}
