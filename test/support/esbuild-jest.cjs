// jest transformer: TypeScript to ESM with esbuild (fast, no type check; tsc --noEmit does that).
const { transformSync } = require('esbuild');
module.exports = {
  process(source, filename) {
    const out = transformSync(source, {
      loader: 'ts',
      format: 'esm',
      target: 'node22',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code: out.code };
  },
};
