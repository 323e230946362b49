// Full disks on cue: the runtime driver's data files tear the writes of
// chosen events part way, as a disk that fills up does.
import { IoError } from "../../mod.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import type { FileHandle, RuntimeDriver } from "../../src/runtime/runtime_driver.ts";

const decoder = new TextDecoder();

/**
 * Makes the runtime driver's data files (not .seal files) tear the write of
 * the events in `tears` after that many characters (0: nothing written), as a
 * full disk does: the first write call takes the part, the next throws
 * `no_space`. Returns the function that puts the driver back.
 */
export function tearWrites(tears: Map<number, number>): () => void {
  const driver = runtime() as { openAppendSync: RuntimeDriver["openAppendSync"] };
  const open = driver.openAppendSync;
  driver.openAppendSync = (path, options) => {
    const handle = open.call(driver, path, options);
    if (String(path).endsWith(".seal")) return handle;
    let failNext = false;
    const torn: FileHandle = {
      path: handle.path,
      kind: handle.kind,
      read: (buffer, position) => handle.read(buffer, position),
      stat: () => handle.stat(),
      sync: () => handle.sync(),
      close: () => handle.close(),
      write: async (bytes) => {
        if (failNext) {
          failNext = false;
          throw new IoError("no_space", { action: "write to", path: handle.path });
        }
        const id = Number(/"call_id":"call-(\d+)"/.exec(decoder.decode(bytes))?.[1] ?? -1);
        const tear = tears.get(id);
        if (tear === undefined) return await handle.write(bytes);
        tears.delete(id);
        const part = tear + (bytes[0] === 0x0a ? 1 : 0); // the newline that ends an earlier torn line goes first
        if (part === 0) throw new IoError("no_space", { action: "write to", path: handle.path });
        failNext = true;
        return await handle.write(bytes.subarray(0, part));
      },
    };
    return torn;
  };
  return () => void (driver.openAppendSync = open);
}
