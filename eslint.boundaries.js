// Which component may import which (ARCHITECTURE.md, "Components"), as ESLint config blocks:
// an import against the arrows fails `npm run lint`. A component reaches another only through
// its index.ts, its public face; tests and benchmarks may reach inside (they test the parts).
// test/architecture.test.ts feeds forbidden imports through these blocks.

/** component → the components it may import (through their index.ts). */
export const ALLOWED_IMPORTS = {
  protocol: [],
  bank: ['protocol'],
  telemetry: ['protocol', 'bank'],
  hardware: ['protocol'],
  'firmware-sim': ['protocol', 'hardware'],
  kiosk: ['protocol', 'hardware'],
  operator: ['protocol'],
};

const COMPONENTS = Object.keys(ALLOWED_IMPORTS);

function blockFor(component) {
  const allowed = ALLOWED_IMPORTS[component];
  const forbidden = COMPONENTS.filter((other) => other !== component && !allowed.includes(other));
  const patterns = [
    ...forbidden.map((other) => ({
      group: [`../${other}/*`, `../../${other}/*`],
      message: `${component}/ must not import ${other}/ (allowed: ${allowed.join(', ') || 'nothing of ours'}); see eslint.boundaries.js`,
    })),
    ...allowed.map((other) => ({
      group: [`../${other}/*`, `!../${other}/index.js`],
      message: `import ${other}/ through its face, ../${other}/index.js`,
    })),
  ];
  return { files: [`${component}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

/** bin/ wires everything together, but through each component's face. */
const binBlock = {
  files: ['bin/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: COMPONENTS.map((other) => ({
          group: [`../${other}/*`, `../../${other}/*`, `!../${other}/index.js`, `!../../${other}/index.js`],
          message: `bin/ imports ${other}/ through its face, ${other}/index.js`,
        })),
      },
    ],
  },
};

export const boundaries = [...COMPONENTS.map(blockFor), binBlock];
