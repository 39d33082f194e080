/**
 * Where results go: forecasts, dead letters. `write` may buffer; `flush` makes everything
 * written so far durable (the checkpoint calls it before committing positions); `close` flushes
 * and releases resources, and is idempotent.
 */
export interface Sink<T> {
  readonly name: string;
  write(items: readonly T[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}
