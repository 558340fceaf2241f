// A kafkajs client in its own process, for bench/wire.ts; prints the elapsed ms as JSON.
// argv: <produce|consume> <port> <topic> <N>
import { createRequire } from 'node:module'
import { kafkajsConsume, kafkajsProduce } from './kafkajs-client.js'

const { Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs')
const [mode, port, topic, count] = process.argv.slice(2) as [string, string, string, string]
const kafka = new Kafka({ clientId: 'bench', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
const ms = mode === 'produce' ? await kafkajsProduce(kafka, topic, Number(count)) : await kafkajsConsume(kafka, topic, Number(count))
process.stdout.write(JSON.stringify({ ms }))
