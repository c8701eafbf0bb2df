//! Local stack.
