import nx from '@nx/eslint-plugin';

// Module boundaries: apps wire libs together; domain libs stand on the engine and the data layer;
// the engine and the data layer depend on nothing of ours.
export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '**/coverage', 'bench/out', '.nx'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['type:feature', 'type:domain', 'type:platform', 'type:engine', 'type:data'],
            },
            {
              sourceTag: 'type:e2e',
              onlyDependOnLibsWithTags: ['type:engine', 'type:data', 'type:domain', 'type:platform'],
            },
            {
              sourceTag: 'type:tools',
              onlyDependOnLibsWithTags: ['type:engine', 'type:data', 'type:domain', 'type:platform', 'type:feature'],
            },
            {
              sourceTag: 'type:feature',
              onlyDependOnLibsWithTags: ['type:feature', 'type:domain', 'type:platform', 'type:engine', 'type:data'],
            },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:engine', 'type:data'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:engine', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:data', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests may assert on values they know are there.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
];
