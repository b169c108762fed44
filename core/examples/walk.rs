//! Prints the HDUs and cards of FITS files: `cargo run -p shmfits-core --example walk -- FILE...`.

use shmfits_core::fits::Hdus;

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read file");
        println!("{path}: {} bytes", data.len());
        for hdu in Hdus::new(&data) {
            match hdu {
                Ok(h) => {
                    let axes: Vec<u64> = h.axes().collect();
                    println!(
                        "  HDU {} {} bitpix {} axes {:?} pcount {} gcount {} header {} data {}..{} next {} extname {:?}",
                        h.index(),
                        h.kind(),
                        h.layout().bitpix(),
                        axes,
                        h.layout().pcount(),
                        h.layout().gcount(),
                        h.header_start(),
                        h.data_start(),
                        h.data_end(),
                        h.padded_end(),
                        h.extname()
                    );
                    for c in h.cards() {
                        match c {
                            Ok(c) => println!(
                                "    {:<10} {:<10} {:<30} {:?}",
                                c.keyword(),
                                c.type_name(),
                                c.raw_value(),
                                c.comment()
                            ),
                            Err(e) => println!("    error: {}", h.card_error(e)),
                        }
                    }
                }
                Err(e) => println!("  error: {e}"),
            }
        }
    }
}
