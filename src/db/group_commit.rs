//! Creates on SQLite, committed together. SQLite writes one transaction at a time
//! and, with `synchronous=FULL`, each commit waits for an `fsync`: one create per
//! commit caps creates at the disk's `fsync` rate however many clients write. Here
//! a create that finds no write under way commits at once, alone; those that
//! arrive while one is under way queue for one task, the committer, whose next
//! commit takes all of them (at most [`MAX_ROWS_PER_COMMIT`]) in one transaction,
//! one `fsync`. Each request is answered only after the commit
//! that holds its row returned, so an acknowledged task is as durable as before.
//! PostgreSQL needs none of this: its connections commit side by side and the
//! server flushes their WAL together.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnAcquireErr, DatabaseConnection, DbErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::entity::task;
use super::hot_path::{HotPath, NewRow};

/// The most creates one commit takes; as many more can wait in the queue, and
/// past that a create waits for room within its request's deadline. Every row is
/// a request in flight already (bounded by `MAX_IN_FLIGHT_REQUESTS`, its body by
/// 64 KiB), so this bounds how long one transaction holds the write lock rather
/// than memory.
pub(super) const MAX_ROWS_PER_COMMIT: usize = 64;

/// Commits that created tasks, and the tasks they created, for the metrics.
#[derive(Debug, Default)]
pub struct CreateCounts {
    commits: AtomicU64,
    tasks: AtomicU64,
}

impl CreateCounts {
    pub(super) fn committed(&self, tasks: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.tasks.fetch_add(tasks as u64, Ordering::Relaxed);
    }

    /// `created`, counted as a commit of its own when it succeeded.
    pub(super) fn alone<T, E>(&self, created: Result<T, E>) -> Result<T, E> {
        if created.is_ok() {
            self.committed(1);
        }
        created
    }

    /// Commits so far, and the tasks they created.
    pub fn get(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.tasks.load(Ordering::Relaxed),
        )
    }
}

/// A create waiting for its commit.
struct Pending {
    row: NewRow,
    reply: oneshot::Sender<Result<task::Model, DbErr>>,
}

/// The queue to the task that commits creates.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::Sender<Pending>,
    committer: Arc<Committer>,
}

impl GroupCommit {
    /// Starts the committing task. `gate` is the store's turn to write: the task
    /// holds it for each commit, as every other write does.
    pub(super) fn spawn(
        db: DatabaseConnection,
        hot: Arc<HotPath>,
        gate: Arc<Mutex<()>>,
        counts: Arc<CreateCounts>,
    ) -> Self {
        let (queue, arrivals) = mpsc::channel(MAX_ROWS_PER_COMMIT);
        let committer = Arc::new(Committer {
            db,
            hot,
            counts,
            gate,
        });
        tokio::spawn(committer.clone().run(arrivals));
        Self { queue, committer }
    }

    /// The row, inserted and committed. A request cut short while its row waits
    /// (its deadline, its client gone) drops the answer, and the row is left out.
    pub(super) async fn insert(&self, row: NewRow) -> Result<task::Model, DbErr> {
        // No write under way or waiting: nothing would share this commit, so it is
        // made here, on the request's own task, without a hand-over to the
        // committer (what a lone client's creates cost stays what it was).
        if let Ok(_turn) = self.committer.gate.try_lock() {
            return self.committer.insert_one(&row).await;
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { row, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The committing task is gone: only when the runtime stops.
fn stopped() -> DbErr {
    DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
}

struct Committer {
    db: DatabaseConnection,
    hot: Arc<HotPath>,
    counts: Arc<CreateCounts>,
    gate: Arc<Mutex<()>>,
}

impl Committer {
    async fn run(self: Arc<Self>, mut arrivals: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(MAX_ROWS_PER_COMMIT);
        while let Some(first) = arrivals.recv().await {
            // The turn first, then the queue: what arrived while another write
            // held the turn joins this commit.
            let _turn = self.gate.lock().await;
            batch.push(first);
            while batch.len() < MAX_ROWS_PER_COMMIT {
                match arrivals.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            batch.retain(|pending| !pending.reply.is_closed());
            self.commit(&mut batch).await;
        }
    }

    /// Answers and empties `batch`.
    async fn commit(&self, batch: &mut Vec<Pending>) {
        if batch.len() > 1 {
            let rows: Vec<&NewRow> = batch.iter().map(|pending| &pending.row).collect();
            match self.hot.insert_all(&self.db, &rows).await {
                Ok(created) => {
                    self.counts.committed(created.len());
                    for (pending, task) in batch.drain(..).zip(created) {
                        let _ = pending.reply.send(Ok(task));
                    }
                    return;
                }
                // Nothing was inserted. Each row goes on its own below, so each
                // request gets its own answer (an error cannot be copied to all
                // of them) and a row that fails fails alone.
                Err(err) => tracing::warn!(
                    error = %err,
                    rows = batch.len(),
                    "a commit of several creates failed; committing them one by one"
                ),
            }
        }
        for pending in batch.drain(..) {
            if pending.reply.is_closed() {
                continue;
            }
            let _ = pending.reply.send(self.insert_one(&pending.row).await);
        }
    }

    /// One row, one commit.
    async fn insert_one(&self, row: &NewRow) -> Result<task::Model, DbErr> {
        self.counts.alone(self.hot.insert(&self.db, row).await)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::time::Duration;

    use chrono::Utc;
    use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
    use sea_orm_migration::MigratorTrait;

    use super::*;

    type Create = Pin<Box<dyn Future<Output = Result<task::Model, DbErr>> + Send>>;

    fn row(title: &str, status: &'static str) -> NewRow {
        NewRow {
            title: title.to_owned(),
            description: None,
            status,
            due_date: None,
            now: Utc::now(),
        }
    }

    async fn start() -> (
        DatabaseConnection,
        GroupCommit,
        Arc<Mutex<()>>,
        Arc<CreateCounts>,
    ) {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        crate::db::migrations::Migrator::up(&db, None)
            .await
            .expect("the schema migrates");
        let gate = Arc::new(Mutex::new(()));
        let counts = Arc::new(CreateCounts::default());
        let commits = GroupCommit::spawn(
            db.clone(),
            Arc::new(HotPath::new(DatabaseBackend::Sqlite, None)),
            gate.clone(),
            counts.clone(),
        );
        (db, commits, gate, counts)
    }

    /// A create whose row is in the queue (or in the committer's hand): polled
    /// once, which sends it (the queue has room), while the test holds the turn,
    /// so that no commit can answer it yet.
    async fn sent(commits: &GroupCommit, row: NewRow) -> Create {
        let commits = commits.clone();
        let mut create: Create = Box::pin(async move { commits.insert(row).await });
        // `timeout` polls the future once before it looks at the (zero) deadline.
        let answered = tokio::time::timeout(Duration::ZERO, &mut create).await;
        assert!(
            answered.is_err(),
            "answered while the turn is held: {answered:?}"
        );
        create
    }

    async fn column(db: &DatabaseConnection, sql: &str) -> Vec<String> {
        db.query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
            .await
            .expect("rows")
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("a text column"))
            .collect()
    }

    /// Before this module each create was its own commit: ten creates, ten.
    #[tokio::test]
    async fn creates_that_wait_for_the_turn_share_one_commit() {
        let (db, commits, gate, counts) = start().await;
        let turn = gate.lock().await;
        let mut creates = Vec::new();
        for i in 0..10 {
            creates.push(tokio::spawn(
                sent(&commits, row(&format!("task {i}"), "todo")).await,
            ));
        }
        drop(turn);
        let mut ids = Vec::new();
        for create in creates {
            ids.push(create.await.expect("no panic").expect("created").id);
        }
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "ten distinct ids: {ids:?}");
        assert_eq!(
            counts.get(),
            (1, 10),
            "(commits, tasks) of ten waiting creates"
        );
        let total = column(&db, "SELECT CAST(sum(total) AS TEXT) FROM task_counts").await;
        assert_eq!(total, ["10"], "task_counts follows a shared commit");
    }

    /// With no write under way a create commits at once, alone.
    #[tokio::test]
    async fn a_lone_create_commits_alone_at_once() {
        let (db, commits, _gate, counts) = start().await;
        for i in 0..3 {
            commits
                .insert(row(&format!("alone {i}"), "todo"))
                .await
                .expect("created");
        }
        assert_eq!(counts.get(), (3, 3), "(commits, tasks)");
        let titles = column(&db, "SELECT title FROM tasks ORDER BY id").await;
        assert_eq!(titles, ["alone 0", "alone 1", "alone 2"]);
    }

    /// A row the database refuses fails alone: the others of its commit are created.
    #[tokio::test]
    async fn a_refused_row_fails_alone_and_the_rest_of_its_commit_is_created() {
        let (db, commits, gate, counts) = start().await;
        let turn = gate.lock().await;
        // `status` has a CHECK constraint; the domain never sends this, a test can.
        let statuses = ["todo", "done", "bogus", "in_progress"];
        let mut creates = Vec::new();
        for status in statuses {
            creates.push(tokio::spawn(sent(&commits, row(status, status)).await));
        }
        drop(turn);
        for (create, status) in creates.into_iter().zip(statuses) {
            let created = create.await.expect("no panic");
            assert_eq!(
                created.is_ok(),
                status != "bogus",
                "status {status}: {created:?}"
            );
        }
        assert_eq!(
            counts.get(),
            (3, 3),
            "(commits, tasks): the valid rows, one by one"
        );
        let titles = column(&db, "SELECT title FROM tasks ORDER BY id").await;
        assert_eq!(
            titles,
            ["todo", "done", "in_progress"],
            "the valid rows, in order"
        );
    }

    /// A create whose request went away before its commit creates nothing.
    #[tokio::test]
    async fn a_create_cut_short_while_queued_creates_nothing() {
        let (db, commits, gate, counts) = start().await;
        let turn = gate.lock().await;
        let kept = sent(&commits, row("kept", "todo")).await;
        drop(sent(&commits, row("cut", "todo")).await);
        let kept = tokio::spawn(kept);
        drop(turn);
        kept.await.expect("no panic").expect("created");
        let titles = column(&db, "SELECT title FROM tasks ORDER BY id").await;
        assert_eq!(titles, ["kept"], "only the create still waited for");
        assert_eq!(counts.get(), (1, 1), "(commits, tasks)");
    }
}
