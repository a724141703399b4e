//! The operations behind each HTTP endpoint, and the glue that serves them from Lambda:
//!
//! - `request`: request bodies and their limits; `references`: names -> Google's immutable ids;
//! - `ops`: one function per operation, returning typed results or an [`ApiError`];
//! - `error`: [`ApiError`] and its mapping to HTTP status codes, in one place;
//! - `handlers`: API Gateway (HTTP API) requests in, responses out, one function per endpoint;
//! - `functions`: the Lambda function serving each handler, and what it needs;
//! - `context`: the dependencies ([`ApiContext`]); `openapi`: the generated OpenAPI document.

pub mod context;
pub mod error;
pub mod functions;
pub mod handlers;
pub mod openapi;
pub mod ops;
pub mod references;
pub mod request;
#[cfg(test)]
mod testing;

pub use context::ApiContext;
pub use error::{ApiError, ErrorBody, ErrorDetail, MAX_BODY_BYTES};
pub use functions::{API_FUNCTIONS, ApiFunction, HandlerFn, api_function};
