//! Shared harness of the driver-on-mock tests: the reference model and the simulated world.
#![allow(dead_code)]

pub mod model;
pub mod world;
