//! `shmfits-mock`: an in-process simulated System V kernel for testing the shmfits driver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
