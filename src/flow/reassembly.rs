//! Stream reassembly (in progress).
