/**
 * GGUF reader: header, metadata and tensor table, with tensor data read on demand.
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
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
  readGguf,
  type ReadGgufOptions,
  readTensorInto,
} from "./reader.ts";
export { bytesSource, fileSource, type GgufSource } from "./source.ts";
