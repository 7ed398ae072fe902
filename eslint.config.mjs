import nx from '@nx/eslint-plugin';

// Module boundaries, in two dimensions. `type:` is the layering: apps wire libs together; the
// registries (libs/registry) list the domains' fragments and the apps; domain libs stand on the
// engine and the data layer; a builder stands on its domain's contract; the
// engine and the data layer depend on nothing of ours. `scope:` is the audience: the gateway's code
// (its app and the read path, libs/pages) reaches only what is shared and the write API
// (`@worker-pattern/writes`), never a builder (`@worker-pattern/<domain>/builder`, SQL), the
// invalidation side of writes (`@worker-pattern/writes/invalidation`: relay, fan-out SQL) nor the
// data layer; builders and the invalidation side are a worker's.
const typeConstraints = [
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: [
      'type:registry',
      'type:feature',
      'type:domain',
      'type:builder',
      'type:platform',
      'type:engine',
      'type:data',
    ],
  },
  {
    sourceTag: 'type:e2e',
    onlyDependOnLibsWithTags: ['type:registry', 'type:engine', 'type:data', 'type:domain', 'type:platform'],
  },
  {
    sourceTag: 'type:tools',
    onlyDependOnLibsWithTags: [
      'type:registry',
      'type:engine',
      'type:data',
      'type:domain',
      'type:builder',
      'type:platform',
      'type:feature',
    ],
  },
  {
    sourceTag: 'type:feature',
    onlyDependOnLibsWithTags: [
      'type:feature',
      'type:registry',
      'type:domain',
      'type:platform',
      'type:engine',
      'type:data',
    ],
  },
  // The registries (libs/registry) list the domains' fragments and the apps: nothing else of ours.
  { sourceTag: 'type:registry', onlyDependOnLibsWithTags: ['type:domain', 'type:engine'] },
  // The browser client may know the registry's names (type-only: it ships none of it).
  { sourceTag: 'type:client', onlyDependOnLibsWithTags: ['type:registry'] },
  { sourceTag: 'type:builder', onlyDependOnLibsWithTags: ['type:domain', 'type:engine', 'type:data'] },
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:engine', 'type:data'] },
  { sourceTag: 'type:platform', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:engine', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:data', onlyDependOnLibsWithTags: [] },
];

const scopeConstraints = [
  { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:gateway', 'scope:shared', 'scope:writes'] },
  { sourceTag: 'scope:writes', onlyDependOnLibsWithTags: ['scope:writes', 'scope:shared', 'scope:data'] },
  {
    sourceTag: 'scope:worker',
    onlyDependOnLibsWithTags: ['scope:worker', 'scope:shared', 'scope:data', 'scope:writes'],
  },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:data', onlyDependOnLibsWithTags: ['scope:data'] },
  {
    sourceTag: 'scope:tools',
    onlyDependOnLibsWithTags: ['scope:gateway', 'scope:writes', 'scope:worker', 'scope:shared', 'scope:data'],
  },
];

// A test may run a real builder against its feature (the fan-out against the feed it invalidates).
const testTypeConstraints = typeConstraints.map((c) =>
  c.sourceTag === 'type:feature'
    ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:builder'] }
    : c,
);

const boundaries = (depConstraints) => ['error', { enforceBuildableLibDependency: true, allow: [], depConstraints }];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '**/coverage', 'bench/out', '.nx'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries([...typeConstraints, ...scopeConstraints]),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests may assert on values they know are there, and may reach across audiences to set the
    // scene (seed Postgres, run a real builder): the layering still holds for them, the audience not.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/testing/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': boundaries(testTypeConstraints),
    },
  },
];
