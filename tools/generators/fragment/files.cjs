// The new fragment's own projects, as text: the contract lib, the builder lib and the worker app,
// laid out as libs/profile, libs/profile/builder and apps/profile-worker are.

/** @param {{ name: string, className: string, propertyName: string, title: string }} n */
function contractLib(n) {
  const root = `libs/${n.name}`;
  return {
    [`${root}/project.json`]: json({
      name: n.name,
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      sourceRoot: `${root}/src`,
      projectType: 'library',
      tags: ['type:domain', 'scope:shared'],
      targets: { lint: { options: { lintFilePatterns: ['{projectRoot}/src'] } }, typecheck: {} },
    }),
    [`${root}/tsconfig.json`]: json({
      extends: '../../tsconfig.base.json',
      compilerOptions: { types: ['node', 'jest'] },
      include: ['src/**/*.ts'],
    }),
    [`${root}/src/index.ts`]: `// The contract: what the gateway and the workers share. The builder is \`@worker-pattern/${n.name}/builder\`.
export * from './lib/${n.name}.fragment';
export * from './lib/${n.name}.invalidation';
`,
    [`${root}/src/lib/${n.name}.fragment.ts`]: `import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/** The params a copy is keyed by: none yet, so one copy per viewer (add fields, keep it strict). */
export const ${n.propertyName}Params = z.object({}).strict();

export type ${n.className}Params = z.infer<typeof ${n.propertyName}Params>;

/**
 * What the worker builds: the contract's one statement of the shape, giving the type and the OpenAPI
 * schema (libs/pages/src/lib/fragment.openapi.ts). Describe the fragment's data here.
 */
export const ${n.propertyName}Data = z.object({});

export type ${n.className}Data = z.infer<typeof ${n.propertyName}Data>;

export const ${n.propertyName}Fragment = defineFragment<${n.className}Params, ${n.className}Data>({
  name: '${n.name}',
  queue: '${n.name}',
  scope: 'viewer',
  version: 1,
  params: ${n.propertyName}Params,
  data: ${n.propertyName}Data,
  title: '${n.title}',
  ttlMs: 60_000,
});
`,
    [`${root}/src/lib/${n.name}.invalidation.ts`]: `import { type InvalidationRules, UNAFFECTED } from '@worker-pattern/write-events';
import type { ${n.className}Params } from './${n.name}.fragment';

/**
 * Which copies of \`${n.name}\` each write changes: none yet. Replace UNAFFECTED with the copies a
 * write changes (libs/profile/src/lib/profile.invalidation.ts shows both kinds of rule).
 */
export const ${n.propertyName}Invalidation: InvalidationRules<${n.className}Params> = {
  'post.created': UNAFFECTED,
  'follow.created': UNAFFECTED,
  'follow.deleted': UNAFFECTED,
  'like.created': UNAFFECTED,
  'like.deleted': UNAFFECTED,
};
`,
  };
}

/** @param {{ name: string, className: string, propertyName: string }} n */
function builderLib(n) {
  const root = `libs/${n.name}/builder`;
  return {
    [`${root}/project.json`]: json({
      name: `${n.name}-builder`,
      $schema: '../../../node_modules/nx/schemas/project-schema.json',
      sourceRoot: `${root}/src`,
      projectType: 'library',
      tags: ['type:builder', 'scope:worker'],
      targets: { lint: {}, typecheck: {} },
    }),
    [`${root}/tsconfig.json`]: json({
      extends: '../../../tsconfig.base.json',
      compilerOptions: { types: ['node', 'jest'] },
      include: ['src/**/*.ts'],
    }),
    [`${root}/src/index.ts`]: `// Worker side only: the builder. The gateway imports the contract, \`@worker-pattern/${n.name}\`.
export * from './lib/${n.name}.builder';
`,
    [`${root}/src/lib/${n.name}.builder.ts`]: `import { Injectable } from '@nestjs/common';
import type { FragmentBuilder } from '@worker-pattern/fragment';
import type { ${n.className}Data, ${n.className}Params } from '@worker-pattern/${n.name}';

/**
 * Builds a viewer's \`${n.name}\` fragment: a value of its data schema. To read Postgres, inject
 * \`DbReader\` (@worker-pattern/db) and read within the fragment's build timeout, as
 * libs/profile/builder/src/lib/profile.builder.ts does; build(params, ctx) receives the params and the viewer.
 */
@Injectable()
export class ${n.className}Builder implements FragmentBuilder<${n.className}Params, ${n.className}Data> {
  build(): Promise<${n.className}Data> {
    return Promise.resolve({});
  }
}
`,
  };
}

/** @param {{ name: string, className: string, propertyName: string, registryKey: string }} n */
function workerApp(n) {
  const app = `${n.name}-worker`;
  const root = `apps/${app}`;
  return {
    [`${root}/project.json`]: json({
      name: app,
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      sourceRoot: `${root}/src`,
      projectType: 'application',
      tags: ['type:app', 'scope:worker'],
      targets: { build: {}, serve: {}, lint: {}, typecheck: {} },
    }),
    [`${root}/tsconfig.json`]: json({
      extends: '../../tsconfig.base.json',
      compilerOptions: { types: ['node', 'jest'] },
      include: ['src/**/*.ts'],
    }),
    [`${root}/tsconfig.app.json`]: json({
      extends: '../../tsconfig.base.json',
      compilerOptions: { outDir: '../../dist/out-tsc', types: ['node'] },
      include: ['src/**/*.ts'],
      exclude: ['src/**/*.spec.ts', 'src/**/*.int-spec.ts'],
    }),
    [`${root}/webpack.config.cjs`]: `module.exports = require('../../tools/webpack/node-app.cjs')({ name: '${app}', appRoot: __dirname });
`,
    [`${root}/src/main.ts`]: `import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { ${n.className}WorkerModule } from './${app}.module';

void bootstrapHttpApp(${n.className}WorkerModule);
`,
    [`${root}/src/${app}.module.ts`]: `import { Module } from '@nestjs/common';
import { ${n.className}Builder } from '@worker-pattern/${n.name}/builder';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds \`${n.name}\` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [WorkerHostModule.forFragment({ app: APPS['${app}'], builder: ${n.className}Builder })],
})
export class ${n.className}WorkerModule {}
`,
  };
}

function json(value) {
  return `${JSON.stringify(value, null, 2)}\n`;
}

module.exports = { contractLib, builderLib, workerApp };
