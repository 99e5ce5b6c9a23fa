//! Tool pinning (see below).
