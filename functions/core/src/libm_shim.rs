//! `pow` and `exp`, defined in the binaries themselves: the crate's one place where code the
//! compiler can't check for soundness is allowed (`#[no_mangle]`, which the 2024 edition marks
//! `unsafe`).
//!
//! # Safety
//! Two symbols of the C library are defined for the whole process, with the C signatures and
//! the C semantics (C99 Annex F, within one unit in the last place): whoever calls them, the
//! SDK's back-off, tokio's statistics, hickory's weighting, gets what libm would give.
#![allow(unsafe_code)]

// The functions the binaries would take from glibc's libm, defined in the binaries themselves:
// `pow` (the AWS SDK's retry back-off, tokio's scheduler statistics) and `exp` (the validator's
// DNS resolver, as it weighs its servers' round trips). Without them the loader maps and binds
// one shared library fewer before `main`: loading libm.so.6 added 8% to the start of a
// hello-world here (paired starts; 8-10 page faults), on every cold start, for functions
// called when a call is retried or a server answers. The implementations are the `libm`
// crate's (musl's), correct to within one unit in the last place, as glibc's.
// `tools/check_binaries.py` fails a build whose zips need libm again (`make build`, the bench),
// and `tests/test_build.py` the debug binaries.

/// `pow(3)`: `base` to the power `exponent`.
#[no_mangle]
pub extern "C" fn pow(base: f64, exponent: f64) -> f64 {
    libm::pow(base, exponent)
}

/// `exp(3)`: e to the power `x`.
#[no_mangle]
pub extern "C" fn exp(x: f64) -> f64 {
    libm::exp(x)
}

#[cfg(test)]
mod tests {
    use super::{exp, pow};

    #[test]
    fn pow_answers_as_the_c_library_does_for_the_back_off_and_the_edge_cases() {
        // The SDK's back-off: a base to the power of the attempt.
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(0.5, -3.0), 8.0);
        assert!((pow(10.0, -2.0) - 0.01).abs() <= f64::EPSILON * 0.01);
        assert!((pow(1.5, 2.5) - 2.755_675_960_631_075).abs() <= 4.0 * f64::EPSILON);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        // C99 Annex F: anything to the power 0 is 1, even NaN; a negative base to a non-integer
        // power is NaN; overflow is infinity.
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(10.0, 400.0), f64::INFINITY);
    }

    #[test]
    fn exp_answers_as_the_c_library_does() {
        assert_eq!(exp(0.0), 1.0);
        assert!((exp(1.0) - std::f64::consts::E).abs() <= f64::EPSILON * std::f64::consts::E);
        assert!((exp(-0.5) - 0.606_530_659_712_633_4).abs() <= f64::EPSILON);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
    }
}
