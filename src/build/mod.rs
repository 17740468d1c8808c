//! Containerfile parsing and the image builder (a later issue).
