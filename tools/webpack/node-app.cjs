// One webpack setup for every Node app of the workspace: bundle our TypeScript (libs included,
// through the tsconfig path aliases) into dist/apps/<name>/main.js and leave node_modules
// external, so the image installs production dependencies and nothing is bundled twice.
// Type checking is the `typecheck` target's job; the loader only transpiles (with decorator
// metadata, which Nest's dependency injection needs).
const path = require('node:path');
const nodeExternals = require('webpack-node-externals');
const { TsconfigPathsPlugin } = require('tsconfig-paths-webpack-plugin');

const workspaceRoot = path.resolve(__dirname, '../..');

/** @param {{ name: string, appRoot: string }} app */
module.exports = function nodeApp({ name, appRoot }) {
  const tsconfig = path.join(appRoot, 'tsconfig.app.json');
  return {
    name,
    mode: process.env.NODE_ENV === 'production' ? 'production' : 'development',
    target: 'node20',
    context: workspaceRoot,
    entry: { main: path.join(appRoot, 'src/main.ts') },
    output: {
      path: path.join(workspaceRoot, 'dist/apps', name),
      filename: '[name].js',
      // The browser bundle (if any) lands in assets/ from its own compiler: leave it alone.
      clean: { keep: /^assets[\\/]/ },
      devtoolModuleFilenameTemplate: '[absolute-resource-path]',
    },
    devtool: 'source-map',
    optimization: { minimize: false, nodeEnv: false },
    // Real __dirname at run time: apps find files (assets/) next to main.js.
    node: { __dirname: false, __filename: false },
    externalsPresets: { node: true },
    externals: [nodeExternals({ modulesDir: path.join(workspaceRoot, 'node_modules') })],
    resolve: {
      extensions: ['.ts', '.js', '.json'],
      // The aliases live in the base config; resolving them from there keeps their paths root-relative.
      plugins: [new TsconfigPathsPlugin({ configFile: path.join(workspaceRoot, 'tsconfig.base.json') })],
    },
    module: {
      rules: [
        {
          test: /\.ts$/,
          exclude: /node_modules/,
          loader: 'ts-loader',
          options: { configFile: tsconfig, transpileOnly: true },
        },
      ],
    },
    stats: 'errors-warnings',
  };
};
