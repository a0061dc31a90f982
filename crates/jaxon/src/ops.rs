//! Operator overloading for Array.
