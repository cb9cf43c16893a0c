//! punktfunk-control
