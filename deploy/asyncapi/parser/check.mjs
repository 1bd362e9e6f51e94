// Parses each AsyncAPI document named on the command line with the official parser (@asyncapi/parser)
// and prints every error diagnostic; exits 1 when a document has one. Warnings are printed, not fatal.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const parser = new Parser();
let failed = false;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(await readFile(path, 'utf8'), { source: path });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
  for (const d of [...errors, ...warnings]) {
    const level = d.severity === DiagnosticSeverity.Error ? 'error' : 'warning';
    console.log(`${path}: ${level} ${d.code} at /${d.path.join('/')}: ${d.message}`);
  }
  if (!document || errors.length) failed = true;
  console.log(`${path}: ${document && !errors.length ? 'valid' : 'INVALID'} (${errors.length} errors, ${warnings.length} warnings)`);
}
process.exit(failed ? 1 : 0);
