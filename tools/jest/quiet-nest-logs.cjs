// Nest's logger writes every expected error a test provokes; keep test output readable unless
// TEST_LOGS=1 asks for it.
if (process.env.TEST_LOGS !== '1') {
  require('@nestjs/common').Logger.overrideLogger(false);
}
