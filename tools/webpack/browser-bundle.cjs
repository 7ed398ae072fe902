// The browser side of an app: one TypeScript entry bundled for evergreen browsers into
// dist/apps/<app>/assets/, its stylesheets emitted beside it. Served by the app as /assets/*.
const path = require('node:path');

const workspaceRoot = path.resolve(__dirname, '../..');

/** @param {{ app: string, name: string, entry: string }} bundle */
module.exports = function browserBundle({ app, name, entry }) {
  return {
    name: `${app}-${name}`,
    mode: process.env.NODE_ENV === 'production' ? 'production' : 'development',
    target: ['web', 'es2020'],
    context: workspaceRoot,
    entry: { [name]: path.join(workspaceRoot, entry) },
    output: {
      path: path.join(workspaceRoot, 'dist/apps', app, 'assets'),
      filename: '[name].js',
      assetModuleFilename: '[name][ext]',
      clean: true,
    },
    devtool: 'source-map',
    resolve: { extensions: ['.ts', '.js'] },
    module: {
      rules: [
        {
          test: /\.ts$/,
          exclude: /node_modules/,
          loader: 'ts-loader',
          options: {
            configFile: path.join(workspaceRoot, 'libs/fragment-client/tsconfig.json'),
            transpileOnly: true,
            compilerOptions: { module: 'esnext', moduleResolution: 'bundler' },
          },
        },
        { test: /\.css$/, type: 'asset/resource' },
      ],
    },
    stats: 'errors-warnings',
  };
};
