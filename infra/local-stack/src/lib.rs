//! The local stack behind `make local` and `make demo`.

pub mod aws;
pub mod demo;
pub mod event;
pub mod gateway;
pub mod moto;
pub mod ports;
pub mod repo;
pub mod report;
pub mod stack;
pub mod template;
pub mod wiring;

pub use demo::{DemoPlan, DemoSummary, DemoTarget};
pub use stack::{LocalOptions, MotoSetting, RunningStack, StackError, start};
