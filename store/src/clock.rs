//! The wall clock: the one place istio-store reads it.
//!
//! Commands are stamped with wall-clock time by the member that proposes them (event times,
//! resource creation times, the idempotency window, `--retain-for`), and applying a command
//! reads only its stamp, so every member computes the same state. Everything else that deals
//! in time — timeouts, backoff, intervals, how long something took — uses
//! `tokio::time::Instant`, which tests can pause and advance (store's `clippy.toml` bans
//! `std::time::Instant`, and `SystemTime::now` everywhere but here). Reading the wall clock in
//! one function keeps that split visible, and gives the other crates one `now_ms` instead of
//! copies of their own.

/// Wall-clock milliseconds since the Unix epoch, for stamping commands (0 if the clock is set
/// before the epoch).
#[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_milliseconds_since_the_epoch() {
        let now = super::now_ms();
        // After 2020-01-01 and before 2100-01-01: milliseconds, not seconds or micros.
        assert!((1_577_836_800_000..4_102_444_800_000).contains(&now), "{now}");
    }
}
