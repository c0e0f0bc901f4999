// What the oracle asks of each runtime: run one case on a fresh object, one result per op.
import type { OracleCase } from "./cases.ts";
import type { OpResult } from "./ops.ts";

export interface OracleRunner {
  readonly label: string;
  run(oracleCase: OracleCase): Promise<OpResult[]>;
  close(): Promise<void>;
}
