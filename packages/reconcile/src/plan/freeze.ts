/** Freeze a plain-data value and everything it holds (objects, arrays, Map values): shared values cannot be changed. */
export function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object' && !Object.isFrozen(x)) {
    if (x instanceof Map) for (const v of x.values()) deepFreeze(v);
    else for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}
