//! A progress bar on stderr for long inputs, shown only when stderr is a terminal.

/// A progress bar on stderr, shown only when stderr is a terminal.
pub(super) struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub(super) fn new(paths: &[String]) -> Progress {
        // The total is the size on disk; for gzip input the position counts
        // decompressed bytes, so the bar becomes a byte counter there.
        let total: u64 = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} analyzing {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress { bar }
    }

    pub(super) fn set(&self, position: u64, gzip: bool) {
        if gzip && self.bar.length().is_some() {
            self.bar.unset_length();
        }
        self.bar.set_position(position);
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
