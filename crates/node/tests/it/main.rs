//! The worker role against a real in-process node: batch jobs and chat sessions.

mod common;
mod gateway;
mod session;
mod worker;
