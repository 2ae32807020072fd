/** A real inference request (KServe v2) built from a model's metadata: gates and test traffic. */

export interface ModelInput {
  input: string;
  datatype: string;
  shape: number[];
}

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
  [4.9, 3.1, 1.5, 0.1],
  [5.9, 3.0, 5.1, 1.8],
];

/** The first input of `GET /v2/models/{name}`, dynamic dimensions as 1; undefined if none. */
export function modelInputOf(metadata: unknown): ModelInput | undefined {
  const input = (metadata as { inputs?: { name: string; datatype: string; shape: number[] }[] })
    ?.inputs?.[0];
  if (!input || typeof input.name !== 'string' || !Array.isArray(input.shape)) return undefined;
  return {
    input: input.name,
    datatype: input.datatype,
    shape: input.shape.map((d) => (d < 0 ? 1 : d)),
  };
}

/** The i-th request body: iris-like rows, repeated to fill the input's shape. */
export function inferenceBody(meta: ModelInput, i: number) {
  const size = meta.shape.reduce((a, b) => a * b, 1);
  const row = IRIS_ROWS[i % IRIS_ROWS.length]!;
  const data = Array.from({ length: size }, (_, k) => row[k % row.length]!);
  return { inputs: [{ name: meta.input, datatype: meta.datatype, shape: meta.shape, data }] };
}
