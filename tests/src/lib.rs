pub mod api_support;
pub mod executor_support;
pub mod reliability;
pub mod runtime_api;
pub mod sam_template;
