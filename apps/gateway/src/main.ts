import 'reflect-metadata';
import { join } from 'node:path';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { gatewayHttpOptions } from './gateway.http';
import { GatewayModule } from './gateway.module';

void bootstrapHttpApp(GatewayModule.register(), gatewayHttpOptions({ assetsRoot: join(__dirname, 'assets') }));
