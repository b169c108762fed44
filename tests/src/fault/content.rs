//! Self-checking FITS files for the fault suite: every version of a file carries its version
//! number and a hash of its data in the header, so a reader can tell a whole version from a
//! torn one (header of one version, data of another, or a half-copied file).

/// FNV-1a, 64 bits: enough to tell versions apart, no dependency.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn card(text: &str) -> [u8; 80] {
    let mut c = [b' '; 80];
    let n = text.len().min(80);
    c[..n].copy_from_slice(&text.as_bytes()[..n]);
    c
}

/// The data bytes of `version` with `len` bytes (deterministic, different per version).
pub fn data(version: u64, len: usize) -> Vec<u8> {
    super::Rng(version.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).bytes(len)
}

/// A one-HDU FITS file: 8-bit image of `len` bytes with `VERSION` and `SHMSUM` (hash of the
/// data) in the header, padded to 2880-byte blocks.
pub fn file(version: u64, len: usize) -> Vec<u8> {
    let d = data(version, len);
    let mut out = Vec::new();
    for text in [
        "SIMPLE  =                    T".to_string(),
        "BITPIX  =                    8".to_string(),
        "NAXIS   =                    1".to_string(),
        format!("NAXIS1  = {len:>20}"),
        format!("VERSION = {version:>20}"),
        format!("SHMSUM  = '{:016x}'", fnv1a(&d)),
        "END".to_string(),
    ] {
        out.extend_from_slice(&card(&text));
    }
    out.resize(2880, b' ');
    out.extend_from_slice(&d);
    out.resize(padded(2880 + len), 0);
    out
}

fn padded(n: usize) -> usize {
    n.div_ceil(2880) * 2880
}

fn value<'a>(header: &'a [u8], key: &str) -> Option<&'a str> {
    header.chunks(80).find_map(|c| {
        let k = std::str::from_utf8(c.get(..8)?).ok()?.trim_end();
        if k == key && c.get(8..10) == Some(b"= ") {
            std::str::from_utf8(&c[10..]).ok().map(str::trim)
        } else {
            None
        }
    })
}

/// Check a file made by [`file()`]: returns its version, or what is wrong (a torn file).
///
/// # Errors
/// A message naming the first inconsistency.
pub fn verify(bytes: &[u8]) -> Result<u64, String> {
    let header = bytes
        .get(..2880)
        .ok_or_else(|| format!("only {} bytes", bytes.len()))?;
    if !header.starts_with(b"SIMPLE  =                    T") {
        return Err("no SIMPLE card".into());
    }
    let num = |k: &str| -> Result<u64, String> {
        value(header, k)
            .ok_or_else(|| format!("no {k}"))?
            .parse()
            .map_err(|e| format!("{k}: {e}"))
    };
    let len = usize::try_from(num("NAXIS1")?).map_err(|e| e.to_string())?;
    let version = num("VERSION")?;
    let sum = value(header, "SHMSUM").ok_or("no SHMSUM")?;
    if bytes.len() != padded(2880 + len) {
        return Err(format!(
            "version {version}: file is {} bytes, header says {}",
            bytes.len(),
            padded(2880 + len)
        ));
    }
    let d = &bytes[2880..2880 + len];
    let want = format!("'{:016x}'", fnv1a(d));
    if sum != want {
        return Err(format!(
            "version {version}: SHMSUM {sum} but data hashes to {want}"
        ));
    }
    if bytes[2880 + len..].iter().any(|&b| b != 0) {
        return Err(format!("version {version}: padding not zero"));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_verify_and_tearing_is_caught() {
        let a = file(1, 5000);
        let b = file(2, 5000);
        assert_eq!(verify(&a), Ok(1));
        assert_eq!(verify(&b), Ok(2));
        let mut torn = a.clone();
        torn[2880..4000].copy_from_slice(&b[2880..4000]);
        assert!(verify(&torn).unwrap_err().contains("SHMSUM"));
        let mut short = b.clone();
        short.truncate(2880 * 2);
        assert!(verify(&short).is_err());
        assert!(verify(&[0u8; 2880]).is_err());
    }
}
