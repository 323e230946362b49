// Child process for the runtime driver tests, driving the real process through
// the driver. Usage: <mode> [args...]
//   signals  prints "ready", then the name of each SIGINT, SIGTERM and SIGHUP it
//            receives; after the third, stops listening and exits with status 3
//   args     prints the arguments after the mode as JSON, then exits with status 7
//   stdin    copies stdin to stdout
//   epipe    writes to stdout until the reader has gone, then prints the error's code on stderr
//   open-append PATH  opens PATH for appending and prints "opened", or the error's code
import { runtime } from "../../src/runtime/runtime.ts";

const driver = runtime();
const encoder = new TextEncoder();
const say = (text: string): Promise<void> => driver.write("stdout", encoder.encode(text + "\n"));
const [mode, ...rest] = driver.args();

if (mode === "signals") {
  let seen = 0;
  const offs = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) =>
    driver.onSignal(signal, () => {
      void say(signal).then(() => {
        if (++seen < 3) return;
        offs.forEach((off) => off());
        driver.exit(3);
      });
    })
  );
  await say("ready");
  setInterval(() => {}, 1_000); // stay alive until the signals come
} else if (mode === "args") {
  await say(JSON.stringify(rest));
  driver.exit(7);
} else if (mode === "stdin") {
  const reader = driver.stdin().getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) await driver.write("stdout", next.value);
} else if (mode === "open-append") {
  try {
    await driver.openAppendSync(rest[0]!).close();
    await say("opened");
  } catch (error) {
    await say(String((error as { code?: string }).code));
  }
} else if (mode === "epipe") {
  const block = encoder.encode("x".repeat(65_536));
  try {
    for (let i = 0; i < 100_000; i++) await driver.write("stdout", block);
    await driver.write("stderr", encoder.encode("never broke\n"));
  } catch (error) {
    await driver.write("stderr", encoder.encode(`${(error as { code?: string }).code}\n`));
  }
}
