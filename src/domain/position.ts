/** A position in an input that can be committed once everything derived from it is durable. */
export interface Position {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to read (Kafka's commit convention), as a decimal string. */
  readonly offset: string;
}
