//! FITS (Flexible Image Transport System, FITS 4.0) on borrowed bytes: 2880-byte blocks of
//! 80-byte cards, typed values, headers, HDU layout, the HDU walk, streaming, and the writer.
//!
//! Nothing here allocates or panics on untrusted input; memory use is fixed (see the bound
//! in [`layout`]).
//!
//! * [`Card`] / [`Value`]: one 80-byte card and its typed value.
//! * [`Header`]: a whole header with its [`HduLayout`]; [`Hdus`] walks every HDU of a file.
//! * [`HeaderStream`]: the same, fed one 2880-byte block at a time ([`Status`]).
//! * [`HeaderBuilder`], [`format_card`], [`pad_data`]: writing.

pub mod card;
pub mod error;
pub mod hdu;
pub mod header;
pub mod layout;
pub mod stream;
pub mod value;
pub mod writer;

pub use card::{Card, CardError, CardErrorKind, CardKind, CARD_LEN};
pub use error::{HduError, HduErrorKind, Mandatory};
pub use hdu::{Hdu, Hdus};
pub use header::{Axes, Cards, Header, LongString, Parts};
pub use layout::{padded, HduKind, HduLayout, ShortName, MAX_NAXIS};
pub use stream::{HeaderStream, Status};
pub use value::{BufferTooSmall, FitsStr, Unescaped, Value};
pub use writer::{
    format_card, format_commentary, format_end, pad_data, pad_data_with, CardValue, Commentary,
    HeaderBuilder, SliceWriter, WriteError,
};

/// Length of a FITS block in bytes.
pub const BLOCK_LEN: usize = 2880;
/// Cards per block.
pub const CARDS_PER_BLOCK: usize = BLOCK_LEN / CARD_LEN;
