//! `rt_test!`: one `#[test]` per `procs` value, so a failure names its
//! procs (`name::procs_2`) instead of hiding in a loop inside one test.
//!
//! The test body is a plain `fn name(procs: usize)`;
//! `rt_test!(name);` runs it at procs 1, 2 and 4 (the project's
//! concurrency matrix), `rt_test!(name, procs_2 = 2, procs_4 = 4);` at the
//! listed values only.

#[allow(unused_macros)]
macro_rules! rt_test {
    ($name:ident) => {
        $crate::common::rt_test!($name, procs_1 = 1, procs_2 = 2, procs_4 = 4);
    };
    ($name:ident, $($case:ident = $procs:expr),+ $(,)?) => {
        // A module and a function may share a name (different namespaces):
        // the cases read as `name::procs_N`.
        mod $name {
            $(
                #[test]
                fn $case() {
                    super::$name($procs);
                }
            )+
        }
    };
}

pub(crate) use rt_test;
