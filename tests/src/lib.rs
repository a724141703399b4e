
pub mod executor_support;
pub mod api_support;
