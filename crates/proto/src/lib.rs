//! Generated types for Hotline's contracts (`proto/hotline/v1`): every gRPC API and every
//! event. Services convert these to domain types at their edge (`TryFrom`); domain code
//! never sees prost types.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

/// `hotline.v1`: the first (and current) version of every contract.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/hotline.v1.rs"));
}

/// The encoded `FileDescriptorSet` of every Hotline proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hotline_descriptor.bin"));

/// The envelope schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 1;
