// Reads a JSON array of values on stdin; prints, one per line, the hex of the UTF-8 bytes of each
// value's RFC 8785 canonical form, as Node's `canonicalize` (by the RFC's author) computes it.
import canonicalize from 'canonicalize';

let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { text += chunk; });
process.stdin.on('end', () => {
  for (const value of JSON.parse(text)) {
    process.stdout.write(Buffer.from(canonicalize(value), 'utf8').toString('hex') + '\n');
  }
});
