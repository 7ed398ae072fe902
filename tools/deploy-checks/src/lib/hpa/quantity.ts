/** Kubernetes resource quantities ("12", "500m", "1.5k", "2Gi") as plain numbers. */

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const m = quantity.trim().match(/^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/);
  if (!m || !(m[2] in SUFFIX)) throw new Error(`not a Kubernetes quantity: "${quantity}"`);
  return Number(m[1]) * SUFFIX[m[2]];
}
