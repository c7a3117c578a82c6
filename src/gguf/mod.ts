/**
 * GGUF reader: header, metadata and tensor table, with tensor data read on demand from
 * a local file, bytes in memory, an http(s) URL or the parts of a split model.
 *
 * @module
 */
export { GgufError, type GgufErrorContext } from "./errors.ts";
export {
  GGML_TYPES,
  GgmlType,
  ggmlTypeFromName,
  type GgmlTypeInfo,
  ggmlTypeName,
  isGgmlType,
  rowBytes,
} from "./ggml_type.ts";
export {
  closeGguf,
  type GgufFile,
  type GgufInput,
  type GgufPart,
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
  readGguf,
  type ReadGgufOptions,
  readTensor,
  readTensorInto,
} from "./reader.ts";
export { bytesSource, fileSource, type GgufSource } from "./source.ts";
export { urlSource, type UrlSourceOptions } from "./url_source.ts";
export { parseSplitName, splitPartName } from "./split.ts";
export {
  encodeGguf,
  type GgufWriteArray,
  type GgufWriteKv,
  type GgufWriteSpec,
  type GgufWriteTensor,
} from "./writer.ts";
export { type GgufHparams, llamaHparams } from "./hparams.ts";
export { type GgufTokenizerMetadata, tokenizerMetadata } from "./tokenizer_metadata.ts";
export { formatInspect, type InspectOptions } from "./inspect.ts";
