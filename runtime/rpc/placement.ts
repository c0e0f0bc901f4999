// Placement: rendezvous (highest-random-weight) hashing of (namespace, object id) over the slots
// (host, isolate). Pure and deterministic, so every process computes the same owner without asking,
// and a restarted host owns exactly what it owned before.

const namespaceHashes = new Map<string, number>();

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// murmur3's 32-bit finalizer: a bijective mix with full avalanche.
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The slot index in [0, slotCount) that owns (namespace, objectIdHex). */
export function slotFor(namespace: string, objectIdHex: string, slotCount: number): number {
  if (slotCount <= 1) return 0;
  let ns = namespaceHashes.get(namespace);
  if (ns === undefined) {
    ns = fnv1a(namespace);
    namespaceHashes.set(namespace, ns);
  }
  // The id is itself a hash: its first 32 bits are uniform. Mix in the namespace, then score each slot.
  const key = fmix32((parseInt(objectIdHex.slice(0, 8), 16) ^ ns) >>> 0);
  let best = 0;
  let bestScore = -1;
  for (let slot = 0; slot < slotCount; slot++) {
    const score = fmix32((key ^ Math.imul(slot + 1, 0x9e3779b9)) >>> 0);
    if (score > bestScore) {
      bestScore = score;
      best = slot;
    }
  }
  return best;
}
