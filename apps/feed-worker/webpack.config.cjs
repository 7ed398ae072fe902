module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'feed-worker', appRoot: __dirname });
