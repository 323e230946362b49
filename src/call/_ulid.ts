// Monotonic ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and
// 80 random bits, in Crockford base32. Within one millisecond (or when the
// clock goes back, or stands still as in Workers) the random part is
// incremented, so ids from one process are unique and sort in issue order.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const random = new Uint8Array(16);
/** The 16 base32 digits of the random part, each 0 to 31. */
const digits = new Uint8Array(16);
let lastTime = -1;
let timePart = "";

/** A new ULID, greater than every ULID this function returned before. */
export function ulid(): string {
  const now = Date.now();
  if (now > lastTime) {
    lastTime = now;
    timePart = encodeTime(now);
    crypto.getRandomValues(random);
    for (let i = 0; i < 16; i++) digits[i] = random[i]! & 31;
  } else if (!increment()) {
    // 80 bits ran out within one millisecond: borrow the next one.
    lastTime++;
    timePart = encodeTime(lastTime);
  }
  let s = timePart;
  for (let i = 0; i < 16; i++) s += ALPHABET[digits[i]!];
  return s;
}

function increment(): boolean {
  for (let i = 15; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

function encodeTime(ms: number): string {
  let s = "";
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) s = ALPHABET[t % 32] + s;
  return s;
}
