use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Statement, TransactionTrait,
};
use tokio::sync::Mutex;

use super::StoreError;
use super::connect::Connections;
use super::entity::task::{self, Column, Entity as Tasks};
use super::group_commit::{CreateCounts, GroupCommit};
use super::hot_path::{HotPath, NewRow};
use super::pools::{PoolStats, PoolUse};
use crate::domain::{DueDate, NewTask, Task, TaskChanges, TaskDescription, TaskStatus, TaskTitle};

/// The tasks table behind a small, domain-typed interface.
#[derive(Clone)]
pub struct TaskStore {
    db: DatabaseConnection,
    /// The health probes' own small pool (see `connect`).
    probe: DatabaseConnection,
    /// SQLite allows one writer at a time; taking turns here, instead of letting
    /// connections race for the file lock, is what keeps `database is locked`
    /// away from clients. PostgreSQL needs no such gate.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The operations on each pool, counted for the metrics.
    main_use: PoolUse,
    probe_use: PoolUse,
    /// `get` and `create`, through sqlx directly (see `hot_path`).
    hot: Arc<HotPath>,
    /// On SQLite, creates committed together (see `group_commit`).
    group_commit: Option<GroupCommit>,
    creates: Arc<CreateCounts>,
}

#[derive(Debug, Clone, Copy)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    /// Only tasks after this id: a page by cursor. `None` starts at the first task.
    pub after: Option<i64>,
    pub limit: u64,
    /// Rows skipped before the page: each one is read, so the caller bounds it.
    pub offset: u64,
}

#[derive(Debug)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: u64,
    /// Whether tasks of the list follow the page.
    pub more: bool,
}

/// The page's SELECT, in id order from an index, with `id > after` (the smallest
/// id when there is no cursor, so the first page and a late one take the same
/// path). One row more than the page is read, to tell whether another follows.
/// Public so that the tests can EXPLAIN it.
pub fn list_statement(backend: DatabaseBackend, query: &TaskQuery) -> Statement {
    list_select(backend, query).build(backend)
}

fn list_select(backend: DatabaseBackend, query: &TaskQuery) -> Select<Tasks> {
    let after = query.after.unwrap_or(i64::MIN);
    let select = match query.status {
        None => Tasks::find()
            .filter(Column::Id.gt(after))
            .order_by_asc(Column::Id),
        // With `status = s AND id > after ORDER BY id`, PostgreSQL may walk the
        // primary key and filter by status, which reads every task of the other
        // statuses on the way (all of them, when the status asked for is the
        // newest tasks'). `(status, id) > (s, after) AND status <= s ORDER BY
        // status, id` is the same rows in the same order, and only
        // `idx_tasks_status_id` can give that order: one range of it. SQLite
        // takes the plain form as that range already, and the row form only
        // with `status <= s` as its bound, which starts at the status's first task.
        Some(status) if backend == DatabaseBackend::Postgres => Tasks::find()
            .filter(
                Expr::tuple([Expr::col(Column::Status), Expr::col(Column::Id)]).gt(Expr::tuple([
                    Expr::value(status.as_str()),
                    Expr::value(after),
                ])),
            )
            .filter(Column::Status.lte(status.as_str()))
            .order_by_asc(Column::Status)
            .order_by_asc(Column::Id),
        Some(status) => Tasks::find()
            .filter(Column::Status.eq(status.as_str()))
            .filter(Column::Id.gt(after))
            .order_by_asc(Column::Id),
    };
    let select = select.limit(query.limit + 1);
    if query.offset > 0 {
        select.offset(query.offset)
    } else {
        select
    }
}

impl TaskStore {
    /// Starts the task that commits SQLite's creates: call it within the runtime.
    pub fn new(connections: Connections) -> Self {
        let Connections {
            main: db,
            probe,
            direct_read_file,
        } = connections;
        let backend = db.get_database_backend();
        let write_gate = (backend == DatabaseBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let hot = Arc::new(HotPath::new(backend, direct_read_file.as_deref()));
        let creates = Arc::new(CreateCounts::default());
        let group_commit = write_gate
            .as_ref()
            .map(|gate| GroupCommit::spawn(db.clone(), hot.clone(), gate.clone(), creates.clone()));
        Self {
            db,
            probe,
            write_gate,
            main_use: PoolUse::new("requests"),
            probe_use: PoolUse::new("probes"),
            hot,
            group_commit,
            creates,
        }
    }

    /// The commits that created tasks so far, and the tasks they created.
    pub fn create_counts(&self) -> (u64, u64) {
        self.creates.get()
    }

    /// The request pool's figures, then the probes'. (On `sqlite::memory:` both
    /// are the one connection's pool.)
    pub fn pool_stats(&self) -> [PoolStats; 2] {
        [
            self.main_use.stats(&self.db),
            self.probe_use.stats(&self.probe),
        ]
    }

    /// Does the database answer? Asked on the probes' own pool, so a replica whose
    /// request pool is saturated is busy, not down.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.probe_use
            .track(async { Ok(self.probe.ping().await?) })
            .await
    }

    pub async fn create(&self, new: NewTask) -> Result<Task, StoreError> {
        self.main_use
            .track(async move {
                let row = NewRow {
                    title: new.title.into_inner(),
                    description: new.description.map(TaskDescription::into_inner),
                    status: new.status.as_str(),
                    due_date: new.due_date.map(DueDate::date),
                    now: now(),
                };
                let created = match &self.group_commit {
                    Some(group_commit) => group_commit.insert(row).await?,
                    None => self.creates.alone(self.hot.insert(&self.db, &row).await)?,
                };
                to_task(created)
            })
            .await
    }

    pub async fn get(&self, id: i64) -> Result<Option<Task>, StoreError> {
        self.main_use
            .track(async move { self.hot.get(&self.db, id).await?.map(to_task).transpose() })
            .await
    }

    /// The page and the total come from one snapshot, so they agree even while
    /// other clients write: one read-only transaction, REPEATABLE READ on
    /// PostgreSQL (a snapshot taken at its first query); a SQLite transaction reads
    /// one snapshot of the WAL from its first read on. The total is read from
    /// `task_counts`, which the database's triggers keep exact in each write's own
    /// transaction: no count over the table.
    pub async fn list(&self, query: TaskQuery) -> Result<TaskPage, StoreError> {
        self.main_use
            .track(async move {
                let txn = match self.db.get_database_backend() {
                    DatabaseBackend::Postgres => {
                        self.db
                            .begin_with_config(
                                Some(IsolationLevel::RepeatableRead),
                                Some(AccessMode::ReadOnly),
                            )
                            .await?
                    }
                    _ => self.db.begin().await?,
                };
                let total = total(&txn, query.status).await?;
                let mut rows = list_select(self.db.get_database_backend(), &query)
                    .all(&txn)
                    .await?;
                txn.commit().await?;
                let more = rows.len() as u64 > query.limit;
                rows.truncate(query.limit as usize);
                let items = rows.into_iter().map(to_task).collect::<Result<_, _>>()?;
                Ok(TaskPage { items, total, more })
            })
            .await
    }

    /// One UPDATE of just the given columns, so concurrent partial updates of
    /// different fields never undo each other.
    pub async fn update(&self, id: i64, changes: TaskChanges) -> Result<Option<Task>, StoreError> {
        self.main_use
            .track(async move {
                if changes.is_empty() {
                    return self.get(id).await;
                }
                let mut update = Tasks::update_many()
                    .col_expr(Column::UpdatedAt, Expr::value(now()))
                    .filter(Column::Id.eq(id));
                if let Some(title) = changes.title {
                    update = update.col_expr(Column::Title, Expr::value(title.into_inner()));
                }
                if let Some(description) = changes.description {
                    update = update.col_expr(
                        Column::Description,
                        Expr::value(description.map(TaskDescription::into_inner)),
                    );
                }
                if let Some(status) = changes.status {
                    update = update.col_expr(Column::Status, Expr::value(status.as_str()));
                }
                if let Some(due_date) = changes.due_date {
                    update =
                        update.col_expr(Column::DueDate, Expr::value(due_date.map(DueDate::date)));
                }
                let _turn = self.writer_turn().await;
                update
                    .exec_with_returning(&self.db)
                    .await?
                    .into_iter()
                    .next()
                    .map(to_task)
                    .transpose()
            })
            .await
    }

    pub async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        self.main_use
            .track(async move {
                let _turn = self.writer_turn().await;
                let result = Tasks::delete_by_id(id).exec(&self.db).await?;
                Ok(result.rows_affected > 0)
            })
            .await
    }

    /// Closes the pool; SQLite checkpoints its WAL as the last connection closes.
    pub async fn close(self) -> Result<(), StoreError> {
        self.probe.close().await?;
        Ok(self.db.close().await?)
    }

    async fn writer_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }
}

/// The number of tasks (of one status), from `task_counts`. The sum is cast
/// because PostgreSQL's `sum(bigint)` is a `numeric`.
async fn total(txn: &DatabaseTransaction, status: Option<TaskStatus>) -> Result<u64, StoreError> {
    let mut query = Query::select();
    query
        .expr_as(
            Expr::cust("CAST(coalesce(sum(total), 0) AS BIGINT)"),
            Alias::new("total"),
        )
        .from(Alias::new("task_counts"));
    if let Some(status) = status {
        query.and_where(Expr::col(Alias::new("status")).eq(status.as_str()));
    }
    let row = txn
        .query_one(&query)
        .await?
        .ok_or(StoreError::Internal(DbErr::RecordNotFound(
            "task_counts".to_owned(),
        )))?;
    let total: i64 = row.try_get("", "total")?;
    u64::try_from(total).map_err(|_| StoreError::CorruptCount(total))
}

/// Millisecond precision: what every backend stores and returns unchanged.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn to_task(row: task::Model) -> Result<Task, StoreError> {
    let corrupt = |reason: String| StoreError::CorruptRow { id: row.id, reason };
    Ok(Task {
        id: row.id,
        title: TaskTitle::parse(&row.title).map_err(|e| corrupt(e.to_string()))?,
        description: row
            .description
            .as_deref()
            .map(TaskDescription::parse)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        status: TaskStatus::parse(&row.status).map_err(|e| corrupt(e.to_string()))?,
        due_date: row.due_date.map(DueDate::from_date),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
