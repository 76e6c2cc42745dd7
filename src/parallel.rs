//! Work split across the machine's cores with `std::thread::scope`. Never changes an order:
//! results come back in the order of the input, so everything built from them stays
//! deterministic. Never fails for want of threads: work a thread could not be started for runs
//! on the calling thread.

use std::sync::Mutex;
use std::thread::{Builder, Scope};

/// `f` applied to every item, the items split into one contiguous run per core; the results in
/// the order of `items`. A panic in `f` is raised again on the calling thread.
pub fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let run = items.len().div_ceil(cores);
    let f = &f;
    std::thread::scope(|scope| {
        let runs: Vec<_> = items
            .chunks(run)
            .map(|chunk| spawn(scope, move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        runs.into_iter().flat_map(Run::join).collect()
    })
}

/// `a` on another thread while `b` runs on this one; both results. A panic in either is raised
/// on the calling thread.
pub fn join<A, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B)
where
    A: Send,
{
    std::thread::scope(|scope| {
        let a = spawn(scope, a);
        let b = b();
        (a.join(), b)
    })
}

/// Work handed to another thread, or already done when no thread could be started.
enum Run<'scope, R> {
    Started(std::thread::ScopedJoinHandle<'scope, Option<R>>),
    Done(R),
}

impl<R> Run<'_, R> {
    fn join(self) -> R {
        match self {
            Run::Started(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .expect("a started thread runs its work"),
            Run::Done(r) => r,
        }
    }
}

fn spawn<'scope, R: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    work: impl FnOnce() -> R + Send + 'scope,
) -> Run<'scope, R> {
    // The work waits in a slot the thread takes it from, so it is still here to run should the
    // thread not start (a process or memory limit).
    let slot = std::sync::Arc::new(Mutex::new(Some(work)));
    let theirs = std::sync::Arc::clone(&slot);
    let started = Builder::new().spawn_scoped(scope, move || {
        let work = theirs.lock().ok().and_then(|mut w| w.take());
        work.map(|w| w())
    });
    match started {
        Ok(handle) => Run::Started(handle),
        Err(_) => {
            let work = slot.lock().ok().and_then(|mut w| w.take());
            Run::Done(work.expect("a thread that did not start took no work")())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        for n in [0, 1, 2, 3, 7, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let squares: Vec<usize> = (0..n).map(|i| i * i).collect();
            assert_eq!(super::map(&items, |i| i * i), squares);
        }
    }

    #[test]
    #[should_panic(expected = "item 5")]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let items: Vec<usize> = (0..10).collect();
        super::map(&items, |&i| assert_ne!(i, 5, "item 5"));
    }

    #[test]
    fn join_returns_both_results() {
        let text = String::from("borrowed");
        assert_eq!(
            super::join(|| text.len(), || text.to_uppercase()),
            (8, "BORROWED".to_owned())
        );
    }

    #[test]
    #[should_panic(expected = "from a")]
    fn a_panic_in_the_other_thread_of_a_join_reaches_the_caller() {
        super::join(|| panic!("from a"), || 1);
    }
}
