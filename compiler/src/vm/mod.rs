//! Offline BPF machine (in progress).
