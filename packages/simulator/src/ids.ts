import { randomBytes, randomFillSync, randomInt } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** CRC-16/XMODEM, the checksum nkeys append to encoded keys. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** nkey prefix bytes (first base32 character of the encoded key). */
export const NKEY_PREFIX = { server: 13 << 3, account: 0 << 3, module: 12 << 3, service: 21 << 3 } as const;

/**
 * A well-formed nkey public key (56 characters, base32, valid CRC16) with a random 32-byte body.
 * `server` keys start with `N` (host ids), `account` with `A`, `module` with `M`, `service` with `V`.
 */
export function generatePublicKey(kind: keyof typeof NKEY_PREFIX = 'server'): string {
  const raw = new Uint8Array(35);
  raw[0] = NKEY_PREFIX[kind];
  raw.set(randomBytes(32), 1);
  const crc = crc16(raw.subarray(0, 33));
  raw[33] = crc & 0xff;
  raw[34] = crc >> 8;
  return base32(raw);
}

/** True when `key` is a syntactically valid nkey public key of the given kind (checks the CRC). */
export function isPublicKey(key: string, kind: keyof typeof NKEY_PREFIX = 'server'): boolean {
  if (key.length !== 56 || !/^[A-Z2-7]+$/.test(key)) return false;
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of key) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  if (bytes.length !== 35 || bytes[0] !== NKEY_PREFIX[kind]) return false;
  const raw = Uint8Array.from(bytes);
  const crc = crc16(raw.subarray(0, 33));
  return raw[33] === (crc & 0xff) && raw[34] === crc >> 8;
}

const ADJECTIVES = [
  'autumn', 'hidden', 'bitter', 'misty', 'silent', 'empty', 'dry', 'dark', 'summer', 'icy', 'delicate',
  'quiet', 'white', 'cool', 'spring', 'winter', 'patient', 'twilight', 'dawn', 'crimson', 'wispy',
  'weathered', 'blue', 'billowing', 'broken', 'cold', 'damp', 'falling', 'frosty', 'green', 'long',
  'late', 'lingering', 'bold', 'little', 'morning', 'muddy', 'old', 'red', 'rough', 'still', 'small',
  'sparkling', 'shy', 'wandering', 'withered', 'wild', 'black', 'young', 'holy', 'solitary', 'fragrant',
  'aged', 'snowy', 'proud', 'floral', 'restless', 'divine', 'polished', 'ancient', 'purple', 'lively',
  'nameless',
];
const NOUNS = [
  'waterfall', 'river', 'breeze', 'moon', 'rain', 'wind', 'sea', 'morning', 'snow', 'lake', 'sunset',
  'pine', 'shadow', 'leaf', 'dawn', 'glitter', 'forest', 'hill', 'cloud', 'meadow', 'sun', 'glade',
  'bird', 'brook', 'butterfly', 'bush', 'dew', 'dust', 'field', 'fire', 'flower', 'firefly', 'feather',
  'grass', 'haze', 'mountain', 'night', 'pond', 'darkness', 'snowflake', 'silence', 'sound', 'sky',
  'shape', 'surf', 'thunder', 'violet', 'water', 'wildflower', 'wave', 'resonance', 'wood', 'dream',
  'cherry', 'tree', 'fog', 'frost', 'voice', 'paper', 'frog', 'smoke', 'star',
];

/** A friendly name like a real host's: `adjective-noun-NNNN`. */
export function generateFriendlyName(): string {
  const adjective = ADJECTIVES[randomInt(ADJECTIVES.length)] ?? 'quiet';
  const noun = NOUNS[randomInt(NOUNS.length)] ?? 'river';
  return `${adjective}-${noun}-${String(randomInt(10000)).padStart(4, '0')}`;
}

/**
 * Random bytes for event ids, drawn from one pool refilled 4 KiB at a time: a call per id into the CSPRNG
 * was a twentieth of a busy simulator's CPU.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(n: number): string {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + n);
  poolAt += n;
  return hex;
}

/** A ULID (48-bit ms timestamp + 80 random bits) rendered as a lowercase hyphenated UUID. */
export function ulidUuid(nowMs: number = Date.now()): string {
  const hex = nowMs.toString(16).padStart(12, '0').slice(-12) + randomHex(10);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const BASE_MS = BigInt(Date.now());
const BASE_HR = process.hrtime.bigint();

/** Wall clock in nanoseconds since the epoch (monotonic within this process). */
export function nowNanos(): bigint {
  return BASE_MS * 1_000_000n + (process.hrtime.bigint() - BASE_HR);
}

/**
 * RFC 3339 UTC time with `Z`, fractional seconds printed with 0, 3, 6 or 9 digits as needed
 * (chrono `SecondsFormat::AutoSi`, as the cloudevents SDK writes `time`).
 */
export function rfc3339(nanos: bigint = nowNanos()): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = Number(nanos % 1_000_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  let fraction = '';
  if (frac !== 0) {
    if (frac % 1_000_000 === 0) fraction = '.' + String(frac / 1_000_000).padStart(3, '0');
    else if (frac % 1_000 === 0) fraction = '.' + String(frac / 1_000).padStart(6, '0');
    else fraction = '.' + String(frac).padStart(9, '0');
  }
  return `${base}${fraction}Z`;
}

const YEAR = 31_557_600;
const MONTH = 2_630_016;
const DAY = 86_400;

/** Host uptime formatted like Rust `humantime` on whole seconds (`1day 2h 3m 5s`, `0s`). */
export function uptimeHuman(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  if (s === 0) return '0s';
  const parts: string[] = [];
  const years = Math.floor(s / YEAR);
  s -= years * YEAR;
  const months = Math.floor(s / MONTH);
  s -= months * MONTH;
  const days = Math.floor(s / DAY);
  s -= days * DAY;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  if (years > 0) parts.push(`${years}year${years > 1 ? 's' : ''}`);
  if (months > 0) parts.push(`${months}month${months > 1 ? 's' : ''}`);
  if (days > 0) parts.push(`${days}day${days > 1 ? 's' : ''}`);
  if (hours > 0) parts.push(`${hours}h`);
  if (minutes > 0) parts.push(`${minutes}m`);
  if (s > 0) parts.push(`${s}s`);
  return parts.join(' ');
}
