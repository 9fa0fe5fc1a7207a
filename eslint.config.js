// ESLint: typescript-eslint's recommended rules plus the house rules of STYLE.md. Layout is
// Prettier's (eslint-config-prettier turns off the rules it owns).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { boundaries } from './eslint.boundaries.js';

export default tseslint.config(
  { ignores: ['dist/', '.build-*/', 'node_modules/'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'test', property: 'only', message: 'no .only in committed tests' },
        { object: 'describe', property: 'only', message: 'no .only in committed tests' },
      ],
    },
  },
  ...boundaries,
);
