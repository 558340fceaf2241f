// Splits a byte stream into lines without copying: each line is handed out as (buffer, start, end)
// over the chunk it arrived in; only a line that spans two chunks is copied. A trailing '\r' is
// dropped (CRLF input); the newline after the last line is optional, and no empty line is made of it.

export type OnLine = (buf: Buffer, start: number, end: number) => void

export class LineSplitter {
  private carry: Buffer | null = null

  /** Calls `onLine` for each complete line in `chunk` (the first one joined to what was carried over). */
  push(chunk: Buffer, onLine: OnLine): void {
    let start = 0
    if (this.carry) {
      const nl = chunk.indexOf(10)
      if (nl === -1) {
        this.carry = Buffer.concat([this.carry, chunk])
        return
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, nl)])
      this.carry = null
      emit(line, 0, line.length, onLine)
      start = nl + 1
    }
    for (;;) {
      const nl = chunk.indexOf(10, start)
      if (nl === -1) break
      emit(chunk, start, nl, onLine)
      start = nl + 1
    }
    if (start < chunk.length) this.carry = Buffer.from(chunk.subarray(start))
  }

  /** The last line when the input did not end with a newline. */
  end(onLine: OnLine): void {
    const rest = this.carry
    this.carry = null
    if (rest && rest.length > 0) emit(rest, 0, rest.length, onLine)
  }
}

function emit(buf: Buffer, start: number, end: number, onLine: OnLine): void {
  onLine(buf, start, end > start && buf[end - 1] === 13 ? end - 1 : end)
}
