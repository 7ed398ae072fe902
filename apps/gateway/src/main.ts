import 'reflect-metadata';
import { join } from 'node:path';
import { connectFragmentEvents } from '@worker-pattern/fragment';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { GatewayModule } from './gateway.module';

void bootstrapHttpApp(GatewayModule, {
  service: 'gateway',
  configure: (app) => {
    // A hybrid app: HTTP for clients, the Redis transport for the workers' readiness events.
    connectFragmentEvents(app);
    // The demo page's script and stylesheet, bundled next to main.js.
    app.useStaticAssets({ root: join(__dirname, 'assets'), prefix: '/assets/', maxAge: '1h' });
  },
});
