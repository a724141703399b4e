//! The local stack behind `make local` and `make demo`.

pub mod aws;
pub mod demo;
pub mod event;
pub mod gateway;
pub mod moto;
pub mod ports;
pub mod report;
pub mod template;
