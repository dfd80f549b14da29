//! A time limit for the computation running on this thread: a stage runner sets it ([`within`]) and the long loops
//! of QC, DE and the report poll it ([`check`]), so a stage past its limit stops with a sentence instead of holding
//! a worker (a blocking thread cannot be killed from outside).

use std::cell::Cell;
use std::time::Instant;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The computation ran past its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the computation ran past its time limit")]
pub struct Expired;

/// Run `f` with `deadline` as this thread's limit (none: no limit), restoring the previous limit afterwards.
pub fn within<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DEADLINE.with(|d| d.replace(deadline)));
    f()
}

/// `Err(Expired)` once this thread's limit has passed. Cheap (a thread-local read and a clock read): call it once
/// per protein or per chart, not per value.
pub fn check() -> Result<(), Expired> {
    match DEADLINE.with(Cell::get) {
        Some(d) if Instant::now() >= d => Err(Expired),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_limit_holds_inside_within_and_is_restored_after() {
        assert_eq!(check(), Ok(()));
        let past = Instant::now() - Duration::from_millis(1);
        within(Some(past), || {
            assert_eq!(check(), Err(Expired));
            within(None, || assert_eq!(check(), Ok(())));
            assert_eq!(check(), Err(Expired));
        });
        assert_eq!(check(), Ok(()));
        let later = Instant::now() + Duration::from_secs(3600);
        within(Some(later), || assert_eq!(check(), Ok(())));
    }
}
