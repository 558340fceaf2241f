#!/usr/bin/env node
// The `kafkalite` executable (package.json `bin`): dist/cli.js when installed, src/cli/bin.ts under tsx.
import { existsSync, readFileSync } from 'node:fs'
import { main } from './program.js'

function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const url = new URL(rel, import.meta.url)
    if (existsSync(url)) return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
  }
  return '0.0.0'
}

process.exitCode = await main(process.argv.slice(2), packageVersion())
