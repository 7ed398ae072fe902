import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { FatControllerModule } from './fat-controller.module';

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(FatControllerModule, new FastifyAdapter(), {
    logger: ['error', 'warn'],
  });
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await app.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1');
}

main().catch((error: Error) => {
  process.stderr.write(`fat-controller: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
