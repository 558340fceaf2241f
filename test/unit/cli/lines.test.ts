// The produce command's line splitter: lines across chunk boundaries, CRLF, a missing final
// newline, empty lines, checked against a plain split for random chunkings.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LineSplitter } from '../../../src/cli/lines.js'
import { test } from '../../fixtures/helpers.js'

function split(chunks: Buffer[]): string[] {
  const s = new LineSplitter()
  const out: string[] = []
  const on = (b: Buffer, start: number, end: number): void => void out.push(b.toString('utf8', start, end))
  for (const c of chunks) s.push(c, on)
  s.end(on)
  return out
}

test('lines split across chunks, CRLF trimmed, no empty record for the final newline', () => {
  assert.deepEqual(split([Buffer.from('a\nb'), Buffer.from('c\r\n\nd')]), ['a', 'bc', '', 'd'], 'lines joined across chunks')
  assert.deepEqual(split([Buffer.from('x\n')]), ['x'], 'final newline makes no empty line')
  assert.deepEqual(split([Buffer.from('lo'), Buffer.from('ng'), Buffer.from(' line\n')]), ['long line'], 'a line over three chunks')
  assert.deepEqual(split([]), [], 'no input, no lines')
})

test('any chunking of any text gives the lines of a plain split', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'b', '\n', '\r', 'é'), { maxLength: 60 }), fc.array(fc.nat(10), { maxLength: 10 }), (chars, cuts) => {
      const text = Buffer.from(chars.join(''))
      const chunks: Buffer[] = []
      let pos = 0
      for (const c of cuts) {
        chunks.push(text.subarray(pos, Math.min(text.length, pos + c)))
        pos = Math.min(text.length, pos + c)
      }
      chunks.push(text.subarray(pos))
      const expected = text.toString('utf8').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
      if (expected.length > 0 && expected[expected.length - 1] === '' && text.length > 0 && text[text.length - 1] === 10) expected.pop()
      if (text.length === 0) expected.pop()
      assert.deepEqual(split(chunks), expected, 'same lines as a plain split')
    }),
    { numRuns: 500 },
  )
})
