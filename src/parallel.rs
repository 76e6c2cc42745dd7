//! Work split across the machine's cores with `std::thread::scope`. Never changes an order:
//! results come back in the order of the input, so everything built from them stays
//! deterministic.

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
    let runs: Vec<Vec<R>> = std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(run)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    runs.into_iter().flatten().collect()
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
}
