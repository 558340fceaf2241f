// The `kafkalite` command: one program of subcommands (commander). Exit codes: 0 done, 1 the
// operation failed (one line on stderr; the stack too with DEBUG=kafkalite:*), 2 bad usage
// (the message and the command's usage line).
import { Command, CommanderError } from 'commander'
import createDebug from 'debug'
import { consumeCommand } from './consume.js'
import { demoCommand } from './demo.js'
import { dumpCommand } from './dump.js'
import { groupsCommand } from './groups.js'
import { produceCommand } from './produce.js'
import { serveCommand } from './serve.js'
import { topicsCommand } from './topics.js'
import { verifyCommand } from './verify.js'

const debug = createDebug('kafkalite:cli')

export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

export function buildProgram(version: string): Command {
  const program = new Command('kafkalite')
    .description("Kafka's topics, partitions and consumer groups in a local data dir")
    .version(version)
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `
The data dir is --dir, else $KAFKALITE_DIR, else ./kafkalite-data.
Reading commands open it read-only, beside a process that writes; the others take its lock.

Examples:
  $ kafkalite topics create orders --partitions 3
  $ seq 1 5 | kafkalite produce orders
  $ kafkalite consume orders --from-beginning --print-offset
  $ kafkalite groups lag billing
  $ kafkalite verify
  $ kafkalite serve --port 9092      (then: kcat -b 127.0.0.1:9092 -L)`,
    )
  topicsCommand(program)
  produceCommand(program)
  consumeCommand(program)
  groupsCommand(program)
  dumpCommand(program)
  verifyCommand(program)
  serveCommand(program)
  demoCommand(program)
  for (const cmd of allCommands(program)) {
    const name = commandPath(cmd)
    cmd.showHelpAfterError(`Usage: ${name} ${cmd.usage()}\nRun '${name} --help' for options and examples.`)
  }
  return program
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version)
  // A reader that went away (`| head`) ends output quietly; other output errors fail the command.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return
    process.stderr.write(`kafkalite: stdout: ${err.message}\n`)
    process.exit(EXIT_FAILED)
  })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE
    const e = err as Error
    process.stderr.write(`kafkalite: ${e?.message ?? String(err)}\n`)
    if (debug.enabled && e?.stack) process.stderr.write(`${e.stack}\n`)
    return EXIT_FAILED
  }
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap((c) => allCommands(c))]
}

function commandPath(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}
