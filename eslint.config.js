// ESLint flat config: type-aware rules everywhere, and the purity fence around src/core.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const impureModules = [
  'fs',
  'fs/promises',
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'dgram',
  'child_process',
  'worker_threads',
  'cluster',
  'os',
  'path',
  'readline',
];
const impurePackages = [
  'socket.io',
  'socket.io-client',
  'engine.io',
  'lowdb',
  'ink',
  'react',
  'commander',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...impureModules,
            ...impureModules.map((m) => `node:${m}`),
            ...impurePackages,
          ].map((name) => ({
            name,
            message: 'src/core is pure: storage and transport live outside it.',
          })),
          patterns: [
            {
              group: [
                ...impurePackages.map((p) => `${p}/*`),
                'node:fs/*',
                '**/daemon/**',
                '**/cli/**',
              ],
              message: 'src/core is pure: storage and transport live outside it.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core is pure: take configuration as arguments.' },
        {
          name: 'console',
          message: 'src/core never logs: it returns values or throws typed errors.',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', process: 'readonly' },
      parserOptions: { projectService: false },
    },
  },
  prettier,
);
