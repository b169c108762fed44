//! Value parsing unit tests.

use super::*;

#[test]
fn numbers() {
    assert_eq!(Value::parse(" 42 "), Some(Value::Integer(42)));
    assert_eq!(Value::parse("-0"), Some(Value::Integer(0)));
    assert_eq!(Value::parse("+7"), Some(Value::Integer(7)));
    assert_eq!(
        Value::parse("-9223372036854775808"),
        Some(Value::Integer(i64::MIN))
    );
    assert_eq!(
        Value::parse("9223372036854775808"),
        Some(Value::BigInteger("9223372036854775808"))
    );
    assert_eq!(Value::parse("1.5"), Some(Value::Real(1.5)));
    assert_eq!(Value::parse("1."), Some(Value::Real(1.0)));
    assert_eq!(Value::parse(".5"), Some(Value::Real(0.5)));
    assert_eq!(Value::parse("-2.5E-3"), Some(Value::Real(-2.5e-3)));
    assert_eq!(Value::parse("3D2"), Some(Value::Real(300.0)));
    assert_eq!(Value::parse("3d+2"), Some(Value::Real(300.0)));
    for bad in [
        ".", "+", "-", "1E", "1.5.2", "inf", "NaN", "1 2", "E5", "0x10", "1,", "TT",
    ] {
        assert_eq!(Value::parse(bad), None, "{bad}");
    }
}

#[test]
fn strings() {
    let Some(Value::String(s)) = Value::parse("'  '") else {
        panic!()
    };
    assert_eq!(s.raw(), " ");
    let Some(Value::String(s)) = Value::parse("''") else {
        panic!()
    };
    assert_eq!(s.raw(), "");
    let Some(Value::String(s)) = Value::parse("'it''s '") else {
        panic!()
    };
    assert_eq!(s.raw(), "it''s");
    assert!(s.eq_unescaped("it's"));
    assert_eq!(s.unescaped_len(), 4);
    let mut small = [0u8; 3];
    assert_eq!(
        s.copy_unescaped(&mut small),
        Err(BufferTooSmall { needed: 4 })
    );
    assert_eq!(Value::parse("'abc"), None);
    assert_eq!(Value::parse("'abc' x"), None);
}

#[test]
fn complex() {
    assert_eq!(
        Value::parse("( 1 , -2 )"),
        Some(Value::ComplexInteger(1, -2))
    );
    assert_eq!(Value::parse("(1.5,2)"), Some(Value::ComplexReal(1.5, 2.0)));
    assert_eq!(Value::parse("(1,)"), None);
    assert_eq!(Value::parse("(1 2)"), None);
    assert_eq!(Value::parse("(1,2"), None);
}
