module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'gateway', appRoot: __dirname });
