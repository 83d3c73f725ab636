/**
 * The byte side of `readLog`: a byte stream (plain or gzip) decoded to text
 * and cut into blocks of whole lines. Browser-safe: gzip is undone with
 * `DecompressionStream`, text with `TextDecoder`.
 */

/** Bytes to read a log from: a `File.stream()`, a fetch body, Node's `fs.createReadStream`… */
export type ByteSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/**
 * Whole lines of text: `text[start, end)` is one or more lines, each ending
 * in "\n" except possibly the file's last. Records are read in place from
 * `text` (no string per line); `text` is a chunk's decoded text, or one
 * line that straddled two chunks.
 */
export interface LineBlock {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** `src` as a web stream (an async iterable is pulled chunk by chunk). */
function toStream(src: ByteSource): ReadableStream<Uint8Array> {
  if (src instanceof ReadableStream) return src;
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/** The bytes of `src`, gunzipped when they start with gzip's magic 1f 8b. */
async function* gunzipIfNeeded(src: ByteSource): AsyncGenerator<Uint8Array> {
  const reader = toStream(src).getReader();
  const first = await reader.read();
  if (first.done) return;
  const head = first.value;
  let stream: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(head);
    },
    async pull(c) {
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  if (head[0] === 0x1f && head[1] === 0x8b) {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  const r = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      yield value;
    }
  } finally {
    r.releaseLock();
  }
}

/**
 * Cut a byte stream into blocks of whole lines (see `LineBlock`): per chunk
 * read, a batch of one or two blocks. A line split across chunks is joined
 * on its own, so a chunk's text is never re-concatenated. No batch is empty.
 */
export async function* lineBlocks(src: ByteSource): AsyncGenerator<LineBlock[]> {
  const decoder = new TextDecoder("utf-8");
  let rest = "";
  for await (const chunk of gunzipIfNeeded(src)) {
    const text = decoder.decode(chunk, { stream: true });
    const first = text.indexOf("\n");
    if (first < 0) {
      rest += text;
      continue;
    }
    const blocks: LineBlock[] = [];
    let start = 0;
    if (rest.length > 0) {
      const line = rest + text.slice(0, first + 1);
      blocks.push({ text: line, start: 0, end: line.length });
      rest = "";
      start = first + 1;
    }
    const end = text.lastIndexOf("\n") + 1;
    if (end > start) blocks.push({ text, start, end });
    if (end < text.length) rest = text.slice(end);
    yield blocks;
  }
  rest += decoder.decode();
  if (rest.length > 0) yield [{ text: rest, start: 0, end: rest.length }];
}
