import { defineConfig, type Options } from 'tsup'
import type { Plugin } from 'esbuild'

/**
 * Facades (src/kafkajs, src/eventstore, src/cli) import the core as '../index.js'; in the build they import the
 * package itself ('kafkalite'), so that there is one copy of the core and one set of classes.
 */
const coreAsPackage: Plugin = {
  name: 'core-as-package',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) =>
      /[\\/]src[\\/](kafkajs|eventstore|cli)[\\/]/.test(args.importer) ? { path: 'kafkalite', external: true } : undefined,
    )
  },
}

const common: Options = { sourcemap: true, target: 'node20', splitting: false, esbuildPlugins: [coreAsPackage] }

export default defineConfig([
  { ...common, entry: { index: 'src/index.ts' }, format: ['esm', 'cjs'], dts: true, shims: true },
  { ...common, entry: { kafkajs: 'src/kafkajs/index.ts' }, format: ['esm', 'cjs'], dts: { resolve: false }, external: ['kafkalite'], shims: true },
  { ...common, entry: { eventstore: 'src/eventstore/index.ts' }, format: ['esm', 'cjs'], dts: { resolve: false }, external: ['kafkalite'], shims: true },
  // The `kafkalite` command (package.json bin); the shebang of src/cli/bin.ts is kept.
  { ...common, entry: { cli: 'src/cli/bin.ts' }, format: ['esm'], external: ['kafkalite'] },
])
