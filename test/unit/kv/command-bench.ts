// Quick measurement of the command codec on the hot path (not a test: run by hand):
//   node --import ./test/unit/storage/fixtures/ts-resolve.mjs --no-warnings test/unit/kv/command-bench.ts
import { decodeCommand, encodeCommand, type Command } from '../../../node/src/kv/index.js';

/** Best of 15 rounds: on a shared, loaded machine the minimum is the most stable figure. */
function measure(label: string, n: number, fn: () => void): void {
  let best = Infinity;
  for (let round = 0; round < 15; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  console.log(`${label}: ${best.toFixed(0)} ns/op (${Math.round(1e9 / best).toLocaleString('en')} ops/s)`);
}

for (const size of [16, 256, 4096]) {
  const cmd: Command = { op: 'put', requestId: '0123456789abcdef:1234567', key: 'users/alice/profile', value: new Uint8Array(size).fill(7), ifMatch: 123456 };
  const data = encodeCommand(cmd);
  const json = JSON.stringify({ ...cmd, value: Buffer.from(cmd.value).toString('base64') });
  console.log(`put with a ${size}-byte value: ${data.length} bytes binary vs ${json.length} bytes JSON+base64`);
  measure(`  encode (binary)`, 20_000, () => {
    encodeCommand(cmd);
  });
  measure(`  decode (binary)`, 20_000, () => {
    decodeCommand(data);
  });
  measure(`  encode+decode (binary)`, 20_000, () => {
    decodeCommand(encodeCommand(cmd));
  });
  measure(`  encode+decode (JSON, for comparison)`, 20_000, () => {
    const o = JSON.parse(JSON.stringify({ ...cmd, value: Buffer.from(cmd.value).toString('base64') })) as { value: string };
    Buffer.from(o.value, 'base64');
  });
}
