//! The way of log lines to stdout: the thread that logs appends its line to a buffer
//! and moves on; a thread of its own writes the buffer out a period later, every
//! line that arrived in the meantime in one `write`.
//!
//! Written here rather than taken from tracing-appender (this project's writer
//! before): its thread waits on a channel and is woken for every line, so at
//! `GET /api/tasks/{id}` each request cost a wake-up, a `write` and 2.6
//! `sched_yield`s of that thread (strace, 2 cores), which then competed with the
//! requests for the CPU. Here a busy second costs about 1 / `period` writes.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long [`Guard`]'s drop waits for the last lines to be written: a stdout that
/// nobody reads must not hold the process at exit.
const LAST_WRITE_WAIT: Duration = Duration::from_secs(1);

/// Gives every log event a handle to the shared buffer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Stops the writer's thread when dropped, after it has written what is buffered.
pub struct Guard {
    shared: Arc<Shared>,
    finished: mpsc::Receiver<()>,
}

/// The number of lines dropped so far because the buffer was full.
#[derive(Clone)]
pub struct DroppedLines(Arc<Shared>);

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Past this many bytes waiting, a new line is dropped and counted.
    limit: usize,
    dropped: AtomicUsize,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

/// Starts the thread that writes to `out` every `period`, or sooner when half of
/// `limit` bytes are waiting. Memory: at most `limit` bytes waiting, plus up to
/// `limit` being written.
pub fn spawn<W: Write + Send + 'static>(
    out: W,
    limit: usize,
    period: Duration,
    name: &str,
) -> io::Result<(LogWriter, Guard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: Condvar::new(),
        limit,
        dropped: AtomicUsize::new(0),
    });
    let (finish, finished) = mpsc::channel();
    let worker = Arc::clone(&shared);
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            worker.write_until_stopped(out, period);
            let _ = finish.send(());
        })?;
    Ok((
        LogWriter {
            shared: Arc::clone(&shared),
        },
        Guard { shared, finished },
    ))
}

impl LogWriter {
    pub fn dropped(&self) -> DroppedLines {
        DroppedLines(Arc::clone(&self.shared))
    }
}

impl DroppedLines {
    pub fn get(&self) -> usize {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    /// A poisoned lock only means a thread panicked while appending bytes; what it
    /// holds is still bytes, and logging must not panic in turn.
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one line whole, or drops it whole when it does not fit.
    fn append(&self, line: &[u8]) {
        let mut pending = self.pending();
        let before = pending.bytes.len();
        if before + line.len() > self.limit {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.bytes.extend_from_slice(line);
        let half = self.limit / 2;
        // The writer sleeps until the first line, and is woken early at half full.
        let wake = before == 0 || (before < half && pending.bytes.len() >= half);
        drop(pending);
        if wake {
            self.wake.notify_one();
        }
    }

    fn write_until_stopped<W: Write>(&self, mut out: W, period: Duration) {
        let mut batch = Vec::new();
        loop {
            let mut pending = self.pending();
            while pending.bytes.is_empty() && !pending.stopping {
                pending = self
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            // Let the lines of one period gather, unless they fill half the buffer
            // first or the process is stopping.
            let until = Instant::now() + period;
            while !pending.stopping && pending.bytes.len() < self.limit / 2 {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                pending = self
                    .wake
                    .wait_timeout(pending, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut pending.bytes, &mut batch);
            let stopping = pending.stopping;
            drop(pending);
            // A failed write loses this batch, as a failed write of a line would;
            // there is nowhere else to report it.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // A batch once as large as the buffer need not keep its memory.
            batch.shrink_to(self.limit / 2);
            if stopping {
                return;
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.pending().stopping = true;
        self.shared.wake.notify_one();
        let _ = self.finished.recv_timeout(LAST_WRITE_WAIT);
    }
}

/// What one event writes through: tracing-subscriber formats a whole line, then
/// hands it over in one `write_all`, so one `write` is one line.
pub struct LineHandle<'a>(&'a Shared);

impl Write for LineHandle<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.0.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineHandle<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineHandle(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records each `write` it is given, and can be held shut.
    #[derive(Clone, Default)]
    struct Sink {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.writes.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.writes.lock().unwrap().concat()).unwrap()
        }
    }

    fn log(writer: &LogWriter, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_of_one_period_are_one_write_and_nothing_is_lost_at_stop() {
        let sink = Sink::default();
        let (writer, guard) = spawn(
            sink.clone(),
            1 << 20,
            Duration::from_millis(500),
            "test-log",
        )
        .unwrap();
        // Lines a millisecond apart, as requests log them: tracing-appender's thread
        // was woken for each and wrote it (one write per line, 50 here).
        let lines: Vec<String> = (0..50).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            log(&writer, line);
            thread::sleep(Duration::from_millis(1));
        }
        drop(guard);
        // 2, not 1: a machine that stalls the test for most of a period may split it.
        let writes = sink.writes.lock().unwrap().len();
        assert!(
            (1..=2).contains(&writes),
            "50 lines within a 500 ms period: {writes} writes"
        );
        assert_eq!(
            sink.text(),
            lines.concat(),
            "every line, whole and in order"
        );
        assert_eq!(writer.dropped().get(), 0);
    }

    #[test]
    fn lines_are_written_within_a_period_without_a_stop() {
        let sink = Sink::default();
        let (writer, _guard) =
            spawn(sink.clone(), 1 << 20, Duration::from_millis(10), "test-log").unwrap();
        log(&writer, "first\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() {
            assert!(Instant::now() < deadline, "not written within 10 s");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "first\n");
    }

    #[test]
    fn a_blocked_sink_costs_whole_dropped_lines_never_a_blocked_logger() {
        let sink = Sink::default();
        let shut = sink.gate.lock().unwrap();
        let limit = 1000;
        let (writer, guard) =
            spawn(sink.clone(), limit, Duration::from_millis(1), "test-log").unwrap();
        // 10-byte lines: the writer takes at most half the buffer into the blocked
        // write, and the buffer holds 100 more; the other lines of 1000 are dropped.
        for i in 0..1000 {
            log(&writer, &format!("line {i:04}\n"));
        }
        let dropped = writer.dropped().get();
        assert!(
            (1000 - 2 * limit / 10..1000).contains(&dropped),
            "{dropped} of 1000 lines dropped with room for {} at most",
            2 * limit / 10
        );
        drop(shut);
        drop(guard);
        let text = sink.text();
        let written = text.lines().count();
        assert_eq!(written + dropped, 1000, "each line written or counted");
        assert!(
            text.lines().all(|l| l.len() == 9 && l.starts_with("line ")),
            "only whole lines: {text:?}"
        );
    }
}
