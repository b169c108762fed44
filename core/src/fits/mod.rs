//! FITS (Flexible Image Transport System, FITS 4.0) on borrowed bytes: 2880-byte blocks of
//! 80-byte cards, typed values, headers, HDU layout, the HDU walk, streaming, and the writer.
