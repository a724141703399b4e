//! The API functions: one Lambda per operation, named like its crate and binary, each with its handler and what it
//! needs besides the table. The local gateway serves template.yaml's routes through this table, the Lambda binaries
//! read their needs from it, and the template tests check each function's IAM policy against them.

use std::future::Future;
use std::pin::Pin;

use lambda_http::Request;

use super::context::ApiContext;
use super::handlers::{self, HandlerResult};
use crate::config::Needs;

/// A handler's future, borrowing the context.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'a>>;
/// A handler, as the table holds it.
pub type HandlerFn = for<'a> fn(&'a ApiContext, Request) -> HandlerFuture<'a>;

/// One API function.
#[derive(Debug, Clone, Copy)]
pub struct ApiFunction {
    /// The Lambda function's crate and binary name (`create-sync`).
    pub name: &'static str,
    pub handler: HandlerFn,
    pub needs: Needs,
}

/// A table row: the handler boxed into a [`HandlerFn`].
macro_rules! function {
    ($name:literal, $handler:ident, google: $google:literal, dispatch: $dispatch:literal) => {{
        fn call(ctx: &ApiContext, req: Request) -> HandlerFuture<'_> {
            Box::pin(handlers::$handler(ctx, req))
        }
        ApiFunction {
            name: $name,
            handler: call,
            needs: Needs {
                google: $google,
                dispatch: $dispatch,
            },
        }
    }};
}

/// Every API function.
pub const API_FUNCTIONS: [ApiFunction; 9] = [
    function!("create-sync", create_sync, google: true, dispatch: true),
    function!("list-syncs", list_syncs, google: false, dispatch: false),
    function!("get-sync", get_sync, google: false, dispatch: false),
    function!("update-sync", update_sync, google: true, dispatch: false),
    function!("delete-sync", delete_sync, google: false, dispatch: true),
    function!("start-run", start_run, google: false, dispatch: true),
    function!("get-runs", get_runs, google: false, dispatch: false),
    function!("search-directory", search_directory, google: true, dispatch: false),
    function!("list-contact-groups", list_contact_groups, google: true, dispatch: false),
];

/// The API function named `name`, if there is one.
pub fn api_function(name: &str) -> Option<&'static ApiFunction> {
    API_FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn api_functions_have_unique_names_and_only_they_are_found() {
        let names: BTreeSet<&str> = API_FUNCTIONS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), API_FUNCTIONS.len());
        for name in names {
            assert_eq!(api_function(name).map(|f| f.name), Some(name));
        }
        assert!(api_function("executor").is_none());
        assert!(api_function("scheduler").is_none());
    }
}
