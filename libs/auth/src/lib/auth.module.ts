import {
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AUTH_OPTIONS, type AuthModuleOptions } from './auth-options';
import { DevLoginController } from './dev-login.controller';
import { StreamTicketController } from './stream-ticket.controller';
import { StreamViewerGuard, ViewerGuard } from './viewer.guard';
import { ViewerTokens } from './viewer-tokens';

export interface AuthModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: Array<InjectionToken | OptionalFactoryDependency>;
  readonly useFactory: (...args: never[]) => AuthModuleOptions | Promise<AuthModuleOptions>;
}

/** Viewer authentication for the gateway: token issue/verify, the guard and dev login. */
@Module({})
export class AuthModule {
  static forRootAsync(options: AuthModuleAsyncOptions): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [...(options.imports ?? []), JwtModule.register({})],
      controllers: [DevLoginController, StreamTicketController],
      providers: [
        { provide: AUTH_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        ViewerTokens,
        ViewerGuard,
        StreamViewerGuard,
      ],
      exports: [AUTH_OPTIONS, ViewerTokens, ViewerGuard, StreamViewerGuard],
    };
  }
}
