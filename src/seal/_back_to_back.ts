// Files read back to back as one data stream: an in-band set, whose
// checkpoints do not split at rotations (a segment may open in one file and
// be sealed in the next).

const LF = new Uint8Array([0x0a]);

/**
 * The bytes of `files`, one after another, as one data stream. A file whose
 * last line has no newline (a write torn right before a rotation: the new
 * file was empty, so no newline went first) ends that line all the same: it
 * never runs into the next file's first line. The stream holds a newline
 * there, and {@linkcode BackToBack.unended} says where, so that the
 * verifier does not take the line for one written whole: it stands for a
 * line whose write failed, or is reported. The last file's last line ends
 * the data as it is.
 */
export class BackToBack implements AsyncIterable<Uint8Array> {
  readonly #files: AsyncIterable<AsyncIterable<Uint8Array>>;
  /** Lines of the stream (1-based, ascending) that end their file without a newline, as files are read. */
  readonly unended: number[] = [];
  /** The number in the stream of each file's first line, as files are read (an empty file's: the next file's). */
  readonly firstLines: number[] = [];
  /** Lines of the stream so far. */
  #lines = 0;

  /** @param files The files' bytes, in order; each is read once the one before has ended. */
  constructor(files: AsyncIterable<AsyncIterable<Uint8Array>>) {
    this.#files = files;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    let open = false; // the bytes so far end inside a line
    for await (const file of this.#files) {
      this.firstLines.push(this.#lines + (open ? 2 : 1));
      let first = true;
      for await (const chunk of file) {
        if (chunk.length === 0) continue;
        if (first && open) {
          // Only a file with bytes ends the line before it: nothing follows a line before empty files alone.
          this.unended.push(++this.#lines);
          yield LF.slice();
        }
        first = false;
        for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) this.#lines++;
        open = chunk[chunk.length - 1] !== 0x0a;
        yield chunk;
      }
    }
  }
}
