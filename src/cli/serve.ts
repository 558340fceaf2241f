// `kafkalite serve`: opens the data dir (creating it when missing) and serves it over the Kafka wire
// protocol until Ctrl-C or SIGTERM, so kcat, KafkaJS or any Kafka client can use it. Prints one
// line to stdout once it listens ("listening on 127.0.0.1:9092 (data dir …)").
import type { Command } from 'commander'
import { dirOption, intArg, withBroker, type DirOptions } from './common.js'

interface ServeOptions extends DirOptions {
  port: number
  host: string
  advertisedHost?: string
  autoCreateTopics: boolean
  maxConnections?: number
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the data dir over the Kafka protocol, for kcat, KafkaJS and other Kafka clients')
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', intArg(0, 65535), 9092)
    .option('--host <address>', 'address to bind; 0.0.0.0 opens it to other machines', '127.0.0.1')
    .option('--advertised-host <name>', 'host name clients are told to connect to (default: the address they used)')
    .option('--no-auto-create-topics', 'never create a topic because a client asked for its metadata')
    .option('--max-connections <n>', 'refuse connections beyond this many', intArg(1))
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
Stops on Ctrl-C or SIGTERM: in-flight requests are answered, then the data dir is closed cleanly.

Examples:
  $ kafkalite serve --dir ./data --port 9092
  $ kcat -b 127.0.0.1:9092 -L
  $ echo hello | kcat -b 127.0.0.1:9092 -P -t greetings`,
    )
    .action(async (o: ServeOptions) => {
      await withBroker(o.dir, 'create', async (broker) => {
        const server = await broker.listen({
          port: o.port,
          host: o.host,
          advertisedHost: o.advertisedHost,
          autoCreateTopics: o.autoCreateTopics,
          maxConnections: o.maxConnections,
        })
        process.stdout.write(`listening on ${o.host}:${server.port} (data dir ${broker.dir})\n`)
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
        process.stderr.write('kafkalite: stopping\n')
        await server.close()
      })
    })
}
