// Monotonic ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and
// 80 random bits, in Crockford base32. Within one millisecond (or when the
// clock goes back, or stands still as in Workers) the random part is
// incremented, so ids from one process are unique and sort in issue order.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** The 1024 pairs of base32 digits, by value: the last two digits of an id come from here. */
const PAIRS: readonly string[] = Array.from({ length: 1024 }, (_, v) => ALPHABET[v >> 5]! + ALPHABET[v & 31]!);
/** Random bytes drawn 16 KiB at a time: one draw costs microseconds, whatever its size. */
const pool = new Uint8Array(16384);
let poolAt = pool.length;
/** The first 14 base32 digits of the random part, each 0 to 31. */
const digits = new Uint8Array(14);
/** The last two digits of the random part, as one number from 0 to 1023. */
let low = 0;
let lastTime = -1;
/** The time part and the first 14 random digits, encoded: most ids change only the last two digits. */
let head = "";
/** The first 8 digits of the time part (they change every 1024 ms), and the time they are of, divided by 1024. */
let timeHead = "";
let timeHeadOf = -1;

/** A new ULID for time `now` (ms since the epoch), greater than every ULID this function returned before. */
export function ulid(now: number = Math.floor(Date.now())): string {
  if (now > lastTime) {
    lastTime = now;
    if (poolAt + 16 > pool.length) {
      crypto.getRandomValues(pool);
      poolAt = 0;
    }
    for (let i = 0; i < 14; i++) digits[i] = pool[poolAt++]! & 31;
    low = ((pool[poolAt++]! & 31) << 5) | (pool[poolAt++]! & 31);
    head = encodeHead();
  } else if (low < 1023) {
    low++;
  } else {
    low = 0;
    if (!carry()) lastTime++; // 80 bits ran out within one millisecond: borrow the next one
    head = encodeHead();
  }
  return head + PAIRS[low];
}

/** Adds one to the first 14 digits (the last two having wrapped round); false when they overflow too. */
function carry(): boolean {
  for (let i = 13; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

/** Pairs of digits rather than single ones: half the concatenations, each costly in JavaScriptCore. */
function encodeHead(): string {
  const d = digits;
  return encodeTime(lastTime) + PAIRS[(d[0]! << 5) | d[1]!] + PAIRS[(d[2]! << 5) | d[3]!] +
    PAIRS[(d[4]! << 5) | d[5]!] + PAIRS[(d[6]! << 5) | d[7]!] + PAIRS[(d[8]! << 5) | d[9]!] +
    PAIRS[(d[10]! << 5) | d[11]!] + PAIRS[(d[12]! << 5) | d[13]!];
}

/** The ten base32 digits of `time` (0 to 2⁴⁸ − 1 ms), the first eight kept while they do not change. */
export function encodeTime(time: number): string {
  const high = Math.floor(time / 1024);
  if (high !== timeHeadOf) {
    timeHeadOf = high;
    timeHead = "";
    for (let i = 0, t = high; i < 4; i++, t = Math.floor(t / 1024)) timeHead = PAIRS[t % 1024] + timeHead;
  }
  return timeHead + PAIRS[time % 1024];
}
