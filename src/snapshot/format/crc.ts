// CRC-32 (zlib polynomial) of a concatenation from the CRCs of its parts, as
// zlib's crc32_combine does. The writer checksums every stored block once for
// its block header; the whole-file CRC of the handle is folded from those
// instead of reading every byte a second time.

/** The reflected CRC-32 polynomial of zlib (and node:zlib crc32). */
const POLY = 0xedb88320
/** x^0 in the reflected representation. */
const X0 = 0x80000000

/** a(x) * b(x) modulo the polynomial, both reflected. */
function multModP(a: number, b: number): number {
  let product = 0
  for (let m = X0; m !== 0; m >>>= 1) {
    if ((a & m) !== 0) {
      product ^= b
      if ((a & (m - 1)) === 0) break
    }
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1
  }
  return product >>> 0
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N: number[] = (() => {
  const table = new Array<number>(32)
  let p = X0 >>> 1 // x^1
  table[0] = p
  for (let k = 1; k < 32; k++) table[k] = p = multModP(p, p)
  return table
})()

/** x^(n * 2^k) modulo the polynomial. */
function x2nModP(n: number, k: number): number {
  let p = X0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p)
    n = Math.floor(n / 2)
    k++
  }
  return p
}

/** CRC-32 of A‖B from crc(A), crc(B) and B's length in bytes (any safe integer). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ crcB) >>> 0
}
