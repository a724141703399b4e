
pub mod executor_support;
