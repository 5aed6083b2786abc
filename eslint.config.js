// ESLint (flat config): typescript-eslint with type information, so promises nobody awaits
// are caught (no-floating-promises), plus the import boundaries of the README's map.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const simOnly = {
  group: ['**/sim/**'],
  message: 'lib/ must not depend on the stand-ins (only lib/demo/ may start them)',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', 'bin/*.js', 'eslint.config.js', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // tap runs the tests a file registers; their promises are its to await
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] },
      ],
    },
  },
  {
    // the product never depends on its stand-ins
    files: ['lib/**/*.ts'],
    ignores: ['lib/sim/**', 'lib/demo/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [simOnly] }] },
  },
  {
    // the stand-ins share only the wire format with the product
    files: ['lib/sim/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./\\.\\./(?!esl/(frame|codec)\\.js$)',
              message: 'the stand-ins import only the ESL frame parser and codec from lib/',
            },
          ],
        },
      ],
    },
  },
);
