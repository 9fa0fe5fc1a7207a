// The import arrows of ARCHITECTURE.md hold: eslint.boundaries.js (part of `npm run lint`)
// refuses an import against them, and the tree as it is has none.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { Linter } from 'eslint';
import { repoRoot } from './helpers/paths.js';

interface BoundariesModule {
  ALLOWED_IMPORTS: Record<string, string[]>;
  boundaries: Linter.Config[];
}

async function loadBoundaries(): Promise<BoundariesModule> {
  return (await import(pathToFileURL(path.join(repoRoot, 'eslint.boundaries.js')).href)) as BoundariesModule;
}

function lintImport(boundaries: Linter.Config[], filename: string, specifier: string): string[] {
  const linter = new Linter({ configType: 'flat', cwd: repoRoot });
  const code = `import { x } from '${specifier}';\nexport const y = x;\n`;
  const config: Linter.Config[] = [{ files: ['**/*.ts'] }, ...boundaries];
  return linter.verify(code, config, { filename: path.join(repoRoot, filename) }).map((message) => message.message);
}

test('an import against the arrows fails the lint, with the rule named in the message', async () => {
  const { ALLOWED_IMPORTS, boundaries } = await loadBoundaries();
  const components = Object.keys(ALLOWED_IMPORTS);
  let forbiddenCount = 0;
  for (const from of components) {
    for (const to of components) {
      if (to === from) continue;
      const messages = lintImport(boundaries, `${from}/example.ts`, `../${to}/index.js`);
      if (ALLOWED_IMPORTS[from]?.includes(to) === true) {
        assert.deepEqual(messages, [], `${from} → ${to} is allowed`);
      } else {
        forbiddenCount += 1;
        assert.equal(messages.length, 1, `${from} → ${to} must fail the lint`);
        assert.match(messages[0] ?? '', new RegExp(`${from}/ must not import ${to}/`));
      }
    }
  }
  // protocol imports nothing; kiosk, operator, hardware never bank or telemetry; bank never kiosk.
  assert.ok(forbiddenCount >= 30, `${forbiddenCount} forbidden directions checked`);
  for (const [from, to] of [
    ['protocol', 'hardware'],
    ['kiosk', 'bank'],
    ['kiosk', 'telemetry'],
    ['operator', 'bank'],
    ['operator', 'telemetry'],
    ['hardware', 'bank'],
    ['bank', 'kiosk'],
    ['bank', 'telemetry'],
    ['telemetry', 'kiosk'],
    ['telemetry', 'operator'],
  ] as const) {
    assert.equal(ALLOWED_IMPORTS[from]?.includes(to), false, `${from} → ${to} stays forbidden`);
  }
});

test('another component is reached only through its index.ts', async () => {
  const { boundaries } = await loadBoundaries();
  const inside = lintImport(boundaries, 'kiosk/example.ts', '../protocol/chain-log.js');
  assert.equal(inside.length, 1);
  assert.match(inside[0] ?? '', /through its face/);
  assert.deepEqual(lintImport(boundaries, 'kiosk/example.ts', './flow.js'), [], 'a file of its own component');
  assert.equal(lintImport(boundaries, 'bin/commands/example.ts', '../../bank/service.js').length, 1);
  assert.deepEqual(lintImport(boundaries, 'bin/commands/example.ts', '../../bank/index.js'), []);
});

test('no source file imports against the arrows today', async () => {
  const { ALLOWED_IMPORTS } = await loadBoundaries();
  const offences: string[] = [];
  for (const [from, allowed] of Object.entries(ALLOWED_IMPORTS)) {
    const dir = path.join(repoRoot, from);
    for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts')) continue;
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      for (const match of text.matchAll(/from '(?:\.\.\/)+([a-z-]+)\/([a-z-]+)\.js'/g)) {
        const [, to, file] = match;
        if (to === undefined || to === from || !(to in ALLOWED_IMPORTS)) continue;
        if (!allowed.includes(to) || file !== 'index') offences.push(`${from}/${name} → ${to}/${file}`);
      }
    }
  }
  assert.deepEqual(offences, []);
});
