//! `DbgPrint` format strings, checked against their arguments when the driver is compiled.
//!
//! The kernel formats the log, as it does for C drivers: a line is a C format string passed
//! with its arguments to the variadic `DbgPrint`, so the driver carries no formatting code of
//! its own. In C a conversion that does not match its argument is undefined behaviour; here
//! [`dbg_print!`](crate::dbg_print) parses the format in a `const` block and compares each
//! conversion with the type of its argument ([`Arg`]), so a mismatch fails the build.
//!
//! The conversions the driver uses, and only those:
//!
//! | conversion | argument | prints |
//! |---|---|---|
//! | `%u` | `u32`, `u16` | unsigned decimal |
//! | `%X` | `u32`, `i32` (an `NTSTATUS`) | uppercase hexadecimal |
//! | `%I64u` | `u64` | unsigned decimal, 64 bits |
//! | `%I64d` | `i64` | signed decimal, 64 bits |
//! | `%p` | a raw pointer | the address: 16 uppercase hex digits on x64 |
//! | `%s` | `&CStr` | the string |
//! | `%c` | `u8` | the character |
//! | `%%` | none | `%` |
//!
//! The four numeric conversions take a field width (`%8u`) and the `0` flag (`%08X`); `%p`,
//! `%s` and `%c` take neither. Like C, `u16` and `u8` arguments are passed as `int`s. Anything
//! else (`%d`, `%x`, `%ld`, `%-8u`, `%.4s`, a lone `%`) is a build error, so every line keeps to
//! conversions whose output Windows documents and Wine's `DbgPrint` reproduces.
//!
//! None of them is a Unicode conversion (`%S`, `%ws`, `%wZ`), which `DbgPrint` allows at
//! `PASSIVE_LEVEL` only: a line can be logged at any IRQL up to `DIRQL`. `DbgPrint` sends at
//! most 512 bytes per call; every line here is far shorter, its `%s` strings included.
//!
//! ```
//! use core::ffi::CStr;
//! use wdm_lookaside::sim;
//!
//! sim::reset(sim::Config::default());
//! let name: &CStr = c"ListType";
//! wdm_lookaside::dbg_print!("LookasideList:   %s = %u (%08X)\n", name, 2_u32, 0xC000_0182_u32);
//! assert_eq!(sim::transcript(), "LookasideList:   ListType = 2 (C0000182)\n");
//! ```
//!
//! A `u64` where the format says `%u` (a 32-bit `unsigned int`) does not build:
//!
//! ```compile_fail,E0080
//! wdm_lookaside::dbg_print!("LookasideList: %u\n", 5_u64);
//! ```
//!
//! Nor does a missing argument, or one too many:
//!
//! ```compile_fail,E0080
//! wdm_lookaside::dbg_print!("LookasideList: %u and %u\n", 5_u32);
//! ```
//!
//! ```compile_fail,E0080
//! wdm_lookaside::dbg_print!("LookasideList: done\n", 5_u32);
//! ```
//!
//! Nor a conversion outside the table:
//!
//! ```compile_fail,E0080
//! wdm_lookaside::dbg_print!("LookasideList: %x\n", 5_u32);
//! ```

use core::ffi::{CStr, c_char, c_void};

use super::ffi;

/// A conversion of the table above, without its width and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// `%u`.
    Unsigned,
    /// `%X`.
    Hex,
    /// `%I64u`.
    Unsigned64,
    /// `%I64d`.
    Signed64,
    /// `%p`.
    Pointer,
    /// `%s`.
    String,
    /// `%c`.
    Char,
}

/// The C type an argument is passed to `DbgPrint` as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CType {
    /// `unsigned int` (`ULONG`).
    U32,
    /// `int` (`LONG`, `NTSTATUS`).
    I32,
    /// `unsigned __int64` (`ULONG64`).
    U64,
    /// `__int64` (`LONG64`).
    I64,
    /// `void *`.
    Pointer,
    /// `const char *`, NUL-terminated.
    String,
    /// A `char`, promoted to `int`.
    Char,
}

impl Conversion {
    /// Whether an argument passed as `ty` is what this conversion reads.
    #[must_use]
    pub const fn accepts(self, ty: CType) -> bool {
        matches!(
            (self, ty),
            (Self::Unsigned, CType::U32)
                | (Self::Hex, CType::U32 | CType::I32)
                | (Self::Unsigned64, CType::U64)
                | (Self::Signed64, CType::I64)
                | (Self::Pointer, CType::Pointer)
                | (Self::String, CType::String)
                | (Self::Char, CType::Char)
        )
    }
}

/// One conversion specification: `%`, the `0` flag, a width, the conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// What is printed.
    pub conversion: Conversion,
    /// Pad with zeros rather than spaces (`0` flag).
    pub zero_pad: bool,
    /// The minimum field width (0: none).
    pub width: usize,
}

/// A piece of a format string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as it is: the bytes from the piece's start to the next `%` or the end.
    Text,
    /// `%%`.
    Percent,
    /// A conversion, which takes the next argument.
    Spec(Spec),
}

/// The piece of `format` starting at byte `at` (before its end) and where the next one starts;
/// the error says what is not supported.
///
/// # Errors
/// A `%` that does not start one of the table's conversions.
pub const fn piece(format: &[u8], at: usize) -> Result<(Piece, usize), &'static str> {
    if format[at] != b'%' {
        let mut end = at;
        while end < format.len() && format[end] != b'%' {
            end += 1;
        }
        return Ok((Piece::Text, end));
    }
    let mut i = at + 1;
    if i < format.len() && format[i] == b'%' {
        return Ok((Piece::Percent, i + 1));
    }
    let zero_pad = i < format.len() && format[i] == b'0';
    if zero_pad {
        i += 1;
    }
    let mut width = 0;
    while i < format.len() && format[i].is_ascii_digit() {
        width = width * 10 + (format[i] - b'0') as usize;
        i += 1;
        if width > 64 {
            return Err("dbg_print!: a field width over 64");
        }
    }
    let wide = i + 3 <= format.len()
        && format[i] == b'I'
        && format[i + 1] == b'6'
        && format[i + 2] == b'4';
    if wide {
        i += 3;
    }
    if i == format.len() {
        return Err("dbg_print!: a `%` at the end of the format");
    }
    let conversion = match (wide, format[i]) {
        (false, b'u') => Conversion::Unsigned,
        (false, b'X') => Conversion::Hex,
        (true, b'u') => Conversion::Unsigned64,
        (true, b'd') => Conversion::Signed64,
        (false, b'p') => Conversion::Pointer,
        (false, b's') => Conversion::String,
        (false, b'c') => Conversion::Char,
        _ => {
            return Err(
                "dbg_print!: a conversion the driver does not use (supported: %u %X %I64u %I64d %p %s %c %%)",
            );
        }
    };
    let numeric = matches!(
        conversion,
        Conversion::Unsigned | Conversion::Hex | Conversion::Unsigned64 | Conversion::Signed64
    );
    if !numeric && (zero_pad || width > 0) {
        return Err("dbg_print!: %p, %s and %c take no width or flags");
    }
    let spec = Spec {
        conversion,
        zero_pad,
        width,
    };
    Ok((Piece::Spec(spec), i + 1))
}

/// Checks at compile time that `format` has one conversion per argument type in `args`, in
/// order, each accepting its argument.
///
/// # Panics
/// When they do not match, with what is wrong: a build error, as this runs in a `const` block.
pub const fn check(format: &[u8], args: &[CType]) {
    let mut at = 0;
    let mut used = 0;
    while at < format.len() {
        let (piece, next) = match piece(format, at) {
            Ok(piece) => piece,
            Err(message) => panic!("{}", message),
        };
        if let Piece::Spec(spec) = piece {
            assert!(
                used < args.len(),
                "dbg_print!: more conversions in the format than arguments"
            );
            assert!(
                spec.conversion.accepts(args[used]),
                "dbg_print!: an argument's type does not match its conversion"
            );
            used += 1;
        }
        at = next;
    }
    assert!(
        used == args.len(),
        "dbg_print!: more arguments than conversions in the format"
    );
}

/// A format string literal, NUL-terminated by [`dbg_print!`](crate::dbg_print).
pub trait Format {
    /// The format.
    const TEXT: &'static CStr;
}

/// `text` (a literal with a `\0` appended) as a C string, at compile time.
///
/// # Panics
/// At compile time, when the literal has a NUL of its own.
#[must_use]
pub const fn c_string(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("dbg_print!: a NUL inside the format would end it early"),
    }
}

/// What an argument looks like to the simulated kernel's `DbgPrint`, which formats in Rust.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// An `unsigned int`.
    U32(u32),
    /// An `int`.
    I32(i32),
    /// An `unsigned __int64`.
    U64(u64),
    /// An `__int64`.
    I64(i64),
    /// A `void *`.
    Pointer(usize),
    /// A `const char *` to a NUL-terminated string that lives across the call.
    String(*const c_char),
}

/// Only this module implements [`Passed`], [`Arg`] and [`Args`]: `print` trusts what they say
/// of their C types (an `Arg` claiming `CType::String` for a dangling pointer would make
/// `DbgPrint` read freed memory), so no other crate may add an implementation.
mod sealed {
    pub trait Passed {}
    pub trait Arg {}
    pub trait Args {}
}

/// A C type `DbgPrint` can take as a variadic argument (none narrower than `int`, as C's
/// default argument promotions require).
pub trait Passed: Copy + sealed::Passed {
    /// The value, for the simulated kernel.
    fn value(self) -> Value;
}

macro_rules! passed {
    ($($ty:ty => |$v:ident| $value:expr),* $(,)?) => {$(
        impl sealed::Passed for $ty {}
        impl Passed for $ty {
            fn value(self) -> Value {
                let $v = self;
                $value
            }
        }
    )*};
}

passed! {
    u32 => |v| Value::U32(v),
    i32 => |v| Value::I32(v),
    u64 => |v| Value::U64(v),
    i64 => |v| Value::I64(v),
    *const c_void => |v| Value::Pointer(v.addr()),
    *const c_char => |v| Value::String(v),
}

/// A Rust type that can be a `DbgPrint` argument: the C type it is passed as.
///
/// Sealed: the types below are all there are. An implementation outside this crate does not
/// build, since [`print()`] trusts `TYPE` and `Passed`:
///
/// ```compile_fail,E0277
/// use core::ffi::c_char;
/// use wdm_lookaside::format::{Arg, CType};
///
/// #[derive(Clone, Copy)]
/// struct Freed(*const c_char);
///
/// impl Arg for Freed {
///     const TYPE: CType = CType::String;
///     type Passed = *const c_char;
///     fn passed(self) -> *const c_char {
///         self.0
///     }
/// }
/// ```
pub trait Arg: Copy + sealed::Arg {
    /// What the conversions see.
    const TYPE: CType;
    /// The C value passed.
    type Passed: Passed;
    /// Converts to the C value.
    fn passed(self) -> Self::Passed;
}

impl Arg for u32 {
    const TYPE: CType = CType::U32;
    type Passed = Self;
    fn passed(self) -> Self {
        self
    }
}

impl sealed::Arg for u8 {}
impl sealed::Arg for u16 {}
impl sealed::Arg for u32 {}
impl sealed::Arg for i32 {}
impl sealed::Arg for u64 {}
impl sealed::Arg for i64 {}
impl<T> sealed::Arg for *const T {}
impl<T> sealed::Arg for *mut T {}
impl sealed::Arg for &CStr {}

/// A character, promoted as C promotes a `char` passed through `...`.
impl Arg for u8 {
    const TYPE: CType = CType::Char;
    type Passed = u32;
    fn passed(self) -> u32 {
        u32::from(self)
    }
}

/// Promoted as C promotes an `unsigned short` passed through `...`.
impl Arg for u16 {
    const TYPE: CType = CType::U32;
    type Passed = u32;
    fn passed(self) -> u32 {
        u32::from(self)
    }
}

impl Arg for i32 {
    const TYPE: CType = CType::I32;
    type Passed = Self;
    fn passed(self) -> Self {
        self
    }
}

impl Arg for u64 {
    const TYPE: CType = CType::U64;
    type Passed = Self;
    fn passed(self) -> Self {
        self
    }
}

impl Arg for i64 {
    const TYPE: CType = CType::I64;
    type Passed = Self;
    fn passed(self) -> Self {
        self
    }
}

impl<T> Arg for *const T {
    const TYPE: CType = CType::Pointer;
    type Passed = *const c_void;
    fn passed(self) -> *const c_void {
        self.cast()
    }
}

impl<T> Arg for *mut T {
    const TYPE: CType = CType::Pointer;
    type Passed = *const c_void;
    fn passed(self) -> *const c_void {
        self.cast_const().cast()
    }
}

/// The borrow lasts for the `DbgPrint` call, which is all the kernel reads the string for.
impl Arg for &CStr {
    const TYPE: CType = CType::String;
    type Passed = *const c_char;
    fn passed(self) -> *const c_char {
        self.as_ptr()
    }
}

/// The arguments of one `DbgPrint` call, as a tuple (sealed, as [`Arg`]).
pub trait Args: Copy + sealed::Args {
    /// Their C types, in order.
    const TYPES: &'static [CType];

    /// `DbgPrint(format, args...)`.
    ///
    /// # Safety
    /// `format`'s conversions take exactly these arguments: [`check`] passed for
    /// `format` and [`Args::TYPES`].
    unsafe fn print(self, format: &CStr);
}

macro_rules! args {
    ($($arg:ident . $index:tt),*) => {
        impl<$($arg: Arg),*> sealed::Args for ($($arg,)*) {}
        impl<$($arg: Arg),*> Args for ($($arg,)*) {
            const TYPES: &'static [CType] = &[$($arg::TYPE),*];

            #[allow(unused_variables, reason = "the call without arguments")]
            unsafe fn print(self, format: &CStr) {
                #[cfg(not(any(test, simulated_kernel)))]
                // SAFETY: a NUL-terminated format whose conversions take exactly these
                // arguments, each passed as the C type its conversion reads (the caller's
                // guarantee); DbgPrint reads them during the call only.
                unsafe {
                    ffi::DbgPrint(format.as_ptr().cast(), $(self.$index.passed()),*)
                };
                #[cfg(any(test, simulated_kernel))]
                // SAFETY: a NUL-terminated format whose conversions take exactly these arguments
                // (the caller's guarantee); the simulation reads each string during the call only.
                unsafe {
                    ffi::dbg_print(format, &[$(Passed::value(self.$index.passed())),*])
                };
            }
        }
    };
}

args!();
args!(A.0);
args!(A.0, B.1);
args!(A.0, B.1, C.2);
args!(A.0, B.1, C.2, D.3);
args!(A.0, B.1, C.2, D.3, E.4);
args!(A.0, B.1, C.2, D.3, E.4, F.5);
args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);

/// `DbgPrint(F::TEXT, args...)` once [`check`] has passed at compile time; what
/// [`dbg_print!`](crate::dbg_print) expands to.
#[inline]
pub fn print<F: Format, A: Args>(args: A) {
    const { check(F::TEXT.to_bytes(), A::TYPES) };
    // SAFETY: the `const` block above made sure at compile time that F::TEXT's conversions
    // take exactly A's arguments.
    unsafe { args.print(F::TEXT) };
}

#[cfg(test)]
mod tests;
