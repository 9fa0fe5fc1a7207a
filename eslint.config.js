// ESLint: typescript-eslint's strict and stylistic type-aware rules plus the house rules of
// STYLE.md. Layout is Prettier's (eslint-config-prettier turns off the rules it owns).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { boundaries } from './eslint.boundaries.js';

/** How the type-aware rules are set here where their defaults do not fit; each says why. */
const TYPE_AWARE_OPTIONS = {
  // Numbers in messages are the point (amounts, counts, attempts, ms); anything else has to be
  // turned into a string on purpose.
  '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
  // node:test's test/it/describe/suite return promises the runner itself awaits; every other
  // promise must be awaited, returned or voided.
  '@typescript-eslint/no-floating-promises': [
    'error',
    { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
  ],
  // `(x) => doSomething(x)` as a callback is idiomatic and reads as a statement; longer forms
  // must still not pass a void value on.
  '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
  // Spreading a string into characters is how keypad keys, digit strings and LCD text (all
  // ASCII, where code points are characters) are split here; spreading a promise, function or
  // Map into an object is still an error.
  '@typescript-eslint/no-misused-spread': ['error', { allow: ['string'] }],
  // It asks for `x!` where a cast is written, but strict's no-non-null-assertion forbids `!`:
  // the two contradict, and no-non-null-assertion is the one we keep.
  '@typescript-eslint/non-nullable-type-assertion-style': 'off',
};

export default tseslint.config(
  { ignores: ['dist/', '.build-*/', 'node_modules/'] },
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // The JS config files and scripts are outside tsconfig.json: there are no types to check them with.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
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
      ...TYPE_AWARE_OPTIONS,
    },
  },
  {
    // Test fakes and harness powers implement promise-returning seams (Store, devices, operator
    // checks) with synchronous bodies. `async` keeps a fake that throws (an unplugged keypad, a full
    // disk) rejecting as the real implementation does, which the tests assert; dropping it would
    // turn those rejections into synchronous throws. Production code keeps the rule.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  ...boundaries,
);
