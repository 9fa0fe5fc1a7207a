// ESLint: typescript-eslint's recommended rules plus the house rules of STYLE.md.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '.build-*/', 'node_modules/'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'test', property: 'only', message: 'no .only in committed tests' }, { object: 'describe', property: 'only', message: 'no .only in committed tests' }],
    },
  },
);
