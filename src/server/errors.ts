/**
 * Typed HTTP errors and their OpenAI-shaped JSON bodies. Every route throws
 * {@link ApiError} for bad input; the handler turns it into a response in one place.
 */

/**
 * The `type` field of an OpenAI error object.
 *
 * @example The type of a 404
 * ```ts
 * import type { ApiErrorType } from "@flint/flint";
 *
 * const type: ApiErrorType = "not_found_error";
 * ```
 */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "server_error"
  | "unavailable_error";

/**
 * An error with an HTTP status that is safe to show to the client.
 *
 * @example Turn an error into an OpenAI error response
 * ```ts
 * import { ApiError } from "@flint/flint";
 *
 * const error = new ApiError(400, "messages must not be empty", { param: "messages" });
 * const response = Response.json(error.toJSON(), { status: error.status });
 * ```
 */
export class ApiError extends Error {
  /** Always "ApiError". */
  override name = "ApiError";
  /**
   * Creates the error with its HTTP status, the message the client sees and the fields
   * of the OpenAI error object (default type from the status).
   */
  constructor(
    readonly status: number,
    message: string,
    readonly options: {
      type?: ApiErrorType;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
  }

  /** The OpenAI error object: `{ error: { message, type, param, code } }`. */
  toJSON(): {
    error: { message: string; type: string; param: string | null; code: string | null };
  } {
    return {
      error: {
        message: this.message,
        type: this.options.type ?? defaultType(this.status),
        param: this.options.param ?? null,
        code: this.options.code ?? null,
      },
    };
  }
}

function defaultType(status: number): ApiErrorType {
  if (status === 401) return "authentication_error";
  if (status === 404) return "not_found_error";
  if (status === 503) return "unavailable_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** Formats a request value for an error message, cut to a readable length. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "undefined" : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A 400 naming the request field, the value found and what was expected. */
export function invalidField(param: string, value: unknown, expected: string): ApiError {
  return new ApiError(
    400,
    `invalid value for '${param}': ${showValue(value)}; expected ${expected}`,
    { param, code: "invalid_value" },
  );
}

/** The JSON response for an {@link ApiError}. */
export function errorResponse(error: ApiError, headers?: HeadersInit): Response {
  const response = Response.json(error.toJSON(), { status: error.status, headers });
  for (const [key, value] of Object.entries(error.options.headers ?? {})) {
    response.headers.set(key, value);
  }
  return response;
}
