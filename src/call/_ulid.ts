// Monotonic ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and
// 80 random bits, in Crockford base32. Within one millisecond (or when the
// clock goes back, or stands still as in Workers) the random part is
// incremented, so ids from one process are unique and sort in issue order.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Random bytes drawn 4 KiB at a time: one draw costs microseconds in Node, whatever its size. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
/** The 16 base32 digits of the random part, each 0 to 31. */
const digits = new Uint8Array(16);
let lastTime = -1;
/** The time part and the first 15 random digits, encoded: most ids change only the last digit. */
let head = "";

/** A new ULID for time `now` (ms since the epoch), greater than every ULID this function returned before. */
export function ulid(now: number = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    if (poolAt + 16 > pool.length) {
      crypto.getRandomValues(pool);
      poolAt = 0;
    }
    for (let i = 0; i < 16; i++) digits[i] = pool[poolAt++]! & 31;
    head = encodeHead();
  } else if (digits[15]! < 31) {
    digits[15]!++;
  } else {
    if (!carry()) lastTime++; // 80 bits ran out within one millisecond: borrow the next one
    head = encodeHead();
  }
  return head + ALPHABET[digits[15]!];
}

/** Adds one to the random part at digit 15 that is 31 (so it carries); false when all 80 bits overflow. */
function carry(): boolean {
  for (let i = 15; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

function encodeHead(): string {
  let s = "";
  for (let i = 0, t = lastTime; i < 10; i++, t = Math.floor(t / 32)) s = ALPHABET[t % 32] + s;
  for (let i = 0; i < 15; i++) s += ALPHABET[digits[i]!];
  return s;
}
