export function minPoints(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
