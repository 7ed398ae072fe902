import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { GatewayModule } from './gateway.module';

void bootstrapHttpApp(GatewayModule, { service: 'gateway' });
