/**
 * The layers of src/ (README "Architecture"). Each arrow points down; nothing imports upward:
 *   cli.tsx, args.ts, stop-signals.ts, train-options.ts (the entry)
 *     -> commands/ (one per subcommand), ui/ (Ink), repl/ (line mode, the REPL contract)
 *     -> explore/ (the prompt's session)
 *     -> prompt/ (parsing, help text), present/ (formatting, charts), config/ (choices, validators, the conf store, paths)
 *     -> render/ (pictures to terminal bytes and PNG), eval/ (classifier, scores)
 *     -> engine/ (model, training, checkpoints, data; imports nothing of ours outside itself)
 */
const layer = (name, path) => ({ name, path });
const ENTRY = '^src/(cli\\.tsx|args\\.ts|stop-signals\\.ts|train-options\\.ts)$';
const rank = [
  layer('entry', ENTRY),
  layer('front', '^src/(commands|ui|repl)/'),
  layer('session', '^src/explore/'),
  layer('text', '^src/(prompt|present|config)/'),
  layer('pictures', '^src/(render|eval)/'),
  layer('engine', '^src/engine/'),
];
const upward = [];
rank.forEach((lower, i) => {
  const above = rank.slice(0, i).map((l) => l.path);
  if (above.length > 0) {
    upward.push({
      name: `no-upward-from-${lower.name}`,
      comment: `${lower.name} may not import the layers above it`,
      severity: 'error',
      from: { path: lower.path },
      to: { path: above.join('|') },
    });
  }
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'engine-is-self-contained',
      comment: 'engine/ imports only engine/, Node and npm packages',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: '^src/engine/' },
    },
    {
      name: 'only-the-entry-uses-ink',
      comment: 'ui/ is the Ink front end: only the entry opens it',
      severity: 'error',
      from: { path: '^src/', pathNot: `${ENTRY}|^src/ui/` },
      to: { path: '^src/ui/' },
    },
    ...[
      ['commands', '^src/(ui|repl)/'],
      ['ui', '^src/(commands|repl)/'],
      ['repl', '^src/(commands|ui)/'],
    ].map(([front, others]) => ({
      name: `front-ends-are-peers-${front}`,
      comment: 'commands/, ui/ and repl/ do not use each other (but for the REPL contract and the train-then-open controller the Ink UI shares with line mode)',
      severity: 'error',
      from: { path: `^src/${front}/` },
      to: { path: others, pathNot: '^src/repl/(options|train-then-open)\\.ts$' },
    })),
    ...upward,
    { name: 'no-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
