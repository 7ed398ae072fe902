module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'profile-worker', appRoot: __dirname });
