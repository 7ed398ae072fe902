// Every bench program is a Node app built like the workspace's apps (tools/webpack/node-app.cjs),
// but written to dist/bench/<name>/main.js so it never mixes with the real apps in dist/apps.
const path = require('node:path');
const nodeApp = require('../tools/webpack/node-app.cjs');

const workspaceRoot = path.resolve(__dirname, '..');

/** @param {string} name a folder of bench/src holding main.ts */
function benchApp(name) {
  const config = nodeApp({ name: `bench-${name}`, appRoot: __dirname });
  return {
    ...config,
    entry: { main: path.join(__dirname, 'src', name, 'main.ts') },
    output: { ...config.output, path: path.join(workspaceRoot, 'dist/bench', name), clean: true },
  };
}

module.exports = ['runner', 'fat-controller', 'floor', 'bench-worker', 'raw-bull-worker', 'slow-profile-worker'].map(
  benchApp,
);
