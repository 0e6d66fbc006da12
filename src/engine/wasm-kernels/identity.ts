/**
 * Identity without a copy. The engine clones every tensor a gradient needs (saveTensorsForBackward),
 * ~240 clones per training step of this model; wasm's Identity memcpy's each one (up to 6 MB),
 * while tfjs tensors are immutable, so sharing the buffer with a reference count is exact. This is
 * what the cpu backend's Identity and wasm's own Reshape do.
 */
import type * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

export function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  (args.backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}
