// ONNX models built in JS, for the onnxruntime-web peer: a minimal subset of onnx.proto
// (models, graphs, nodes, attributes, typed inputs/outputs, initializers) as a protobufjs JSON
// schema, and an encoder from a small graph description. Field numbers are onnx.proto's.
// Why not the `onnx-proto` package: it is unmaintained (pinned to an old protobufjs major and
// IR version) and brings the whole schema for the ~30 fields used here; protobufjs is already
// a dev dependency, and the subset below is short enough to check against the spec by eye.
import protobuf from 'protobufjs/light.js';

/** Element types we use (onnx.TensorProto.DataType values). */
const DATA_TYPE = { float32: 1, int32: 6, int64: 7, float16: 10 } as const;
export type OnnxElemType = keyof typeof DATA_TYPE;

/** onnx.AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** A typed attribute value: build with float(), int(), ints(), floats(), str(). */
export type OnnxAttribute =
  | { readonly f: number }
  | { readonly i: number }
  | { readonly s: string }
  | { readonly floats: readonly number[] }
  | { readonly ints: readonly number[] };
export const float = (f: number): OnnxAttribute => ({ f });
export const int = (i: number): OnnxAttribute => ({ i });
export const ints = (values: readonly number[]): OnnxAttribute => ({ ints: values });
export const floats = (values: readonly number[]): OnnxAttribute => ({ floats: values });
export const str = (s: string): OnnxAttribute => ({ s });

export interface OnnxNode {
  op: string;
  /** Operator set domain: '' (ONNX) or e.g. 'com.microsoft'. */
  domain?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** A graph input or output: name, element type, and shape (numbers, or names for symbolic dims). */
export interface OnnxValue {
  name: string;
  type: OnnxElemType;
  shape: readonly (number | string)[];
}

/** A constant baked into the model (shapes for Reshape and the like). */
export interface OnnxInitializer {
  name: string;
  type: OnnxElemType;
  dims: readonly number[];
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
}

export interface OnnxGraph {
  name?: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
  initializers?: readonly OnnxInitializer[];
  /** Operator set versions by domain; default '' 17 (LayerNormalization) and 'com.microsoft' 1 where used. */
  opsets?: Readonly<Record<string, number>>;
}

/** IR version 8 goes with opset 17. */
const IR_VERSION = 8;
const DEFAULT_OPSET = 17;

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: repeated('OperatorSetIdProto', 8),
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: repeated('TensorProto', 5),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: repeated('AttributeProto', 5),
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            floats: repeated('float', 7),
            ints: repeated('int64', 8),
            type: { type: 'int32', id: 20 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        TypeProto: {
          fields: { tensorType: { type: 'TensorTypeProto', id: 1 } },
        },
        // onnx.TypeProto.Tensor, flattened to a sibling message (same wire format).
        TensorTypeProto: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
        },
        // onnx.TensorShapeProto.Dimension (oneof dim_value / dim_param).
        Dimension: {
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | null = null;

function attributeMessage(name: string, value: OnnxAttribute): Record<string, unknown> {
  if ('f' in value) return { name, type: ATTRIBUTE_TYPE.FLOAT, f: value.f };
  if ('i' in value) {
    if (!Number.isInteger(value.i)) throw new Error(`attribute ${name}: int() needs an integer, got ${value.i}`);
    return { name, type: ATTRIBUTE_TYPE.INT, i: value.i };
  }
  if ('s' in value) return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value.s) };
  if ('floats' in value) return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: [...value.floats] };
  if (!value.ints.every(Number.isInteger)) throw new Error(`attribute ${name}: ints() needs integers, got [${value.ints.join(', ')}]`);
  return { name, type: ATTRIBUTE_TYPE.INTS, ints: [...value.ints] };
}

function valueInfo(value: OnnxValue): Record<string, unknown> {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[value.type],
        shape: { dim: value.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Serialises a graph as an ONNX model (the bytes InferenceSession.create accepts). */
export function encodeModel(graph: OnnxGraph): Uint8Array {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  const domains = new Set(graph.nodes.map((n) => n.domain ?? ''));
  const opsets: Record<string, number> = { '': DEFAULT_OPSET };
  if (domains.has('com.microsoft')) opsets['com.microsoft'] = 1;
  Object.assign(opsets, graph.opsets ?? {});
  for (const domain of domains) {
    if (!(domain in opsets)) throw new Error(`a node uses operator domain '${domain}' but graph.opsets has no version for it`);
  }
  const message = {
    irVersion: IR_VERSION,
    producerName: '@maskgit/core bench',
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph: {
      name: graph.name ?? 'graph',
      node: graph.nodes.map((n, index) => ({
        name: `${n.op}_${index}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([name, value]) => attributeMessage(name, value)),
      })),
      initializer: (graph.initializers ?? []).map((t) => ({
        name: t.name,
        dataType: DATA_TYPE[t.type],
        dims: [...t.dims],
        rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  const error = modelType.verify(message);
  if (error) throw new Error(`invalid ONNX model description: ${error}`);
  return modelType.encode(modelType.create(message)).finish();
}
