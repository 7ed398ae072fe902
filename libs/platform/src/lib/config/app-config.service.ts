import { ConfigService } from '@nestjs/config';
import type { BaseEnv } from './env.schema';

/**
 * The typed view of the validated config. It is the very ConfigService instance that `@nestjs/config`
 * holds (PlatformModule binds this token to it with `useExisting`), under a real class token so that
 * constructor injection works with any compiler's decorator metadata:
 *
 *   constructor(private readonly config: AppConfig<GatewayEnv>) {}
 *   this.config.get('PORT', { infer: true }) // number
 *
 * Never instantiated itself.
 */
export abstract class AppConfig<T extends object = BaseEnv> extends ConfigService<T, true> {}
