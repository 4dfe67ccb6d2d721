/** The annotations wadm puts on what it runs, by which it knows what it owns (docs/wire/behaviour.md). */

export const MANAGED_BY_KEY = 'wasmcloud.dev/managed-by';
export const MANAGED_BY_VALUE = 'wadm';
export const APPSPEC_KEY = 'wasmcloud.dev/appspec';
export const SCALER_KEY = 'wasmcloud.dev/scaler';
export const SPREAD_KEY = 'wasmcloud.dev/spread_name';
