/**
 * Records a client history in the JSON shape the checker reads (see history.go): monotonic
 * nanosecond timestamps from process.hrtime.bigint(), one entry per operation.
 */
import { writeFileSync } from 'node:fs';

export type OpKind = 'put' | 'get' | 'cas';

export interface OpResult {
  unknown?: boolean;
  found?: boolean;
  value?: string;
  revision?: number;
  mismatch?: boolean;
}

export interface RecordedOp {
  client: number;
  call: number;
  return?: number;
  op: OpKind;
  key: string;
  value?: string;
  ifRev?: number;
  result: OpResult;
}

export class HistoryRecorder {
  private readonly origin = process.hrtime.bigint();
  readonly operations: RecordedOp[] = [];

  now(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  add(op: RecordedOp): void {
    this.operations.push(op);
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const o of this.operations) {
      const k = o.result.unknown ? `${o.op}:unknown` : o.result.mismatch ? `${o.op}:412` : o.op;
      c[k] = (c[k] ?? 0) + 1;
    }
    return c;
  }

  save(file: string): void {
    writeFileSync(file, JSON.stringify({ operations: this.operations }));
  }
}
