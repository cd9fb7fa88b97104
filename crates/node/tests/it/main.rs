//! The worker role against a real in-process node: batch jobs and chat sessions.

mod agent;
mod blobs;
mod common;
mod gateway;
mod http;
mod model;
mod session;
mod sync;
mod tools;
mod validators;
mod worker;
