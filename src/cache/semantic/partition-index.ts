/*
 * One partition's vectors for the in-process store: an exact scan while the partition is small, an HNSW graph
 * (usearch) once it grows. A graph costs tens of kilobytes even for one vector, and most partitions (one per scope
 * and conversation context) hold a few prompts, so graphs only where a scan would get long.
 */
import { exactSearch, Index, type Matches, MetricKind, ScalarKind } from 'usearch';

/** Vectors a partition holds before its scan becomes a graph. */
const GRAPH_FROM = 256;

export interface Neighbour {
  key: bigint;
  /** Cosine distance, as pgvector's `<=>`. */
  distance: number;
}

export class PartitionIndex {
  /** Until the graph exists: key → vector, in insertion order. */
  private small: Map<bigint, Float32Array> | null = new Map();
  private graph: Index | null = null;
  /** Vectors held: usearch only marks removed vectors, so the graph's own size counts the removed ones too. */
  size = 0;

  constructor(readonly dimensions: number) {}

  add(key: bigint, vector: Float32Array): void {
    this.size++;
    if (this.graph) return this.graph.add(key, vector);
    this.small!.set(key, vector);
    if (this.small!.size >= GRAPH_FROM) this.growGraph();
  }

  remove(key: bigint): void {
    const gone = this.graph ? this.graph.remove(key) : Number(this.small!.delete(key));
    if (gone) this.size--;
  }

  nearest(vector: Float32Array, k: number): Neighbour[] {
    const count = Math.min(k, this.size);
    if (count === 0) return [];
    if (this.graph) return neighbours(this.graph.search(vector, count, 1), (key) => key);
    const keys = [...this.small!.keys()];
    const found = exactSearch([...this.small!.values()], vector, this.dimensions, count, MetricKind.Cos, 1);
    // exactSearch answers row numbers of the dataset (one query: a Matches)
    return neighbours(found as Matches, (row) => keys[Number(row)]);
  }

  private growGraph(): void {
    const graph = new Index({
      dimensions: this.dimensions,
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      // usearch's defaults for the graph
      connectivity: 16,
      expansion_add: 128,
      expansion_search: 64,
      multi: false,
    });
    graph.add(BigUint64Array.from(this.small!.keys()), [...this.small!.values()]);
    this.graph = graph;
    this.small = null;
  }
}

function neighbours(found: Matches, keyOf: (k: bigint) => bigint): Neighbour[] {
  return Array.from(found.keys, (k, i) => ({ key: keyOf(k), distance: found.distances[i] }));
}
