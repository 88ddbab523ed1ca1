//! One tick: every alarm, once, then a record of what happened.
//!
//! The steps follow DESIGN.md "One tick, precisely". For the tick as a
//! whole: take the lock, check the schema, load alarms and teams, open
//! the run row, run the alarms (concurrently, bounded), close the run row.
//! For each alarm, in `run_alarm`: load its active events, detect,
//! reconcile, compose and send, then write the changes with the notified
//! stamps (one transaction), report. An alarm's failure of any kind stays
//! inside its report.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
    time::Instant,
};

use alarms::{DetectError, Detection};
use deadpool_postgres::Pool;
use tokio::{sync::Semaphore, task::JoinSet};
use tracing::Instrument;

use crate::{
    alarm::Alarm,
    config::Config,
    error_chain, failing, ledger,
    notify::{
        self,
        compose::{self, compose, Limits},
        Channel, Message, SendError,
    },
    recipients::{self, Resolved},
    reconcile::{reconcile, ActiveEvent, Outcome, Plan},
    silence::{self, Silence, Silenced},
    sources::Sources,
    store::{
        self,
        alarms::AlarmRow,
        events, health, keys,
        lock::{self, Attempt},
        migrate,
        rows::{AlarmRecord, Bookkeeping, EventData, EventRow, RunRecord},
        runs, StoreError,
    },
    time,
};

pub use crate::store::lock::LockHolder;

/// How a tick is run.
#[derive(Debug, Clone, Default)]
pub struct TickOptions {
    /// Write all state, send nothing.
    pub dry_run: bool,
    /// The tick's clock (Unix seconds); `None` reads the system clock.
    pub now: Option<f64>,
}

/// What a tick did, for the summary line and the exit status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickSummary {
    /// The run row's id.
    pub run_id: String,
    /// Alarms whose detector ran.
    pub alarms_run: usize,
    /// Alarms that failed in any way.
    pub alarms_errored: usize,
    /// Distinct detections over all alarms.
    pub detections: usize,
    /// Events created.
    pub new_events: usize,
    /// Events cleared.
    pub cleared: usize,
    /// Events silences kept out of this tick's emails.
    pub silenced: usize,
    /// Emails sent.
    pub emails_sent: usize,
    /// Emails that failed to send.
    pub emails_failed: usize,
    /// Wall time of the tick.
    pub duration: Duration,
    /// Active events per alarm after the tick, by `entry_id` (alarms cut
    /// off by the tick's deadline are not listed: their count is unknown).
    pub active_events: Vec<(String, usize)>,
    /// Alarms cut off by `engine.tick_timeout`.
    pub cut_off: usize,
    /// Consecutive failed ticks per alarm (0 when its detector succeeded),
    /// by `entry_id`; alarms that did not get as far as their detector are
    /// not listed.
    pub consecutive_failures: Vec<(String, i64)>,
    /// Why the run row could not be closed, when it could not: the alarms
    /// ran (what they wrote stays), the record of the tick is incomplete.
    pub unrecorded: Option<String>,
    /// Where the time went.
    pub phases: Phases,
}

/// Time spent per step of the tick. The per-alarm steps are summed over
/// alarms, which run concurrently, so their sum can exceed the wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Alarm, team and silence rows, plus each alarm's active events.
    pub load: Duration,
    /// Detectors.
    pub detect: Duration,
    /// Reconciling detections with events (and silences).
    pub reconcile: Duration,
    /// Each alarm's transaction: events created, touched, cleared.
    pub write: Duration,
    /// Composing, sending and stamping the emails.
    pub send: Duration,
    /// Closing the run row.
    pub record: Duration,
}

impl Phases {
    fn add(&mut self, other: &Phases) {
        self.load += other.load;
        self.detect += other.detect;
        self.reconcile += other.reconcile;
        self.write += other.write;
        self.send += other.send;
        self.record += other.record;
    }

    fn log(&self, what: &'static str) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        tracing::debug!(
            load_ms = ms(self.load),
            detect_ms = ms(self.detect),
            reconcile_ms = ms(self.reconcile),
            write_ms = ms(self.write),
            send_ms = ms(self.send),
            record_ms = ms(self.record),
            "{what}"
        );
    }
}

impl TickSummary {
    /// Whether anything went wrong: an alarm failed, or the tick's record
    /// could not be written.
    pub fn failed(&self) -> bool {
        self.alarms_errored > 0 || self.unrecorded.is_some()
    }
}

/// The result of asking for a tick.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// Another session holds the tick lock; nothing was done.
    AlreadyRunning(LockReport),
    /// The tick ran.
    Done(TickSummary),
}

/// Who holds the tick lock, and whether that is still normal.
#[derive(Debug, Clone, PartialEq)]
pub struct LockReport {
    /// The holding session, when it could be identified.
    pub holder: Option<LockHolder>,
    /// How long it has held the lock, by the tick's clock.
    pub held_for: Option<Duration>,
    /// Held longer than `engine.stuck_after`: an error, not an overlap.
    pub stuck: bool,
}

impl LockReport {
    fn new(holder: Option<LockHolder>, now: f64, stuck_after: Duration) -> LockReport {
        let held_for = holder
            .as_ref()
            .and_then(|h| h.since)
            .map(|since| Duration::from_secs_f64((now - since).max(0.0)));
        LockReport {
            stuck: held_for.is_some_and(|d| d > stuck_after),
            holder,
            held_for,
        }
    }
}

/// Why a tick did not run at all.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// The database was unreachable, or its schema is not ready.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A client the tick needs could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// What every alarm task shares.
struct Shared {
    pool: Pool,
    teams: HashMap<String, Vec<String>>,
    /// Silences in force at the start of the tick, by alarm `entry_id`.
    silences: HashMap<String, Vec<Silence>>,
    /// `None` in a dry run: no connection to the mail system at all.
    channel: Option<Box<dyn Channel>>,
    from: String,
    /// Events listed per section of an email.
    max_per_section: usize,
    /// The monitor's base URL, for links to the dashboard.
    base_url: Option<String>,
    /// The run row's id.
    run_id: String,
    now: Option<f64>,
    alarm_timeout: Duration,
    send_timeout: Duration,
    slots: Semaphore,
    sources: Sources,
}

impl Shared {
    fn now(&self) -> f64 {
        self.now.unwrap_or_else(time::now)
    }
}

/// Runs one tick against the configured database.
///
/// An `Err` means nothing was done (the database is unreachable, or
/// migrations are pending); alarm failures are in the summary instead.
pub async fn run_tick(config: &Config, options: &TickOptions) -> Result<TickOutcome, TickError> {
    let started = Instant::now();
    let lock = match lock::try_acquire(&config.db).await? {
        Attempt::Acquired(lock) => lock,
        Attempt::Held(holder) => {
            let now = options.now.unwrap_or_else(time::now);
            return Ok(TickOutcome::AlreadyRunning(LockReport::new(
                holder,
                now,
                config.engine.stuck_after,
            )));
        }
    };
    let result = run_locked(config, options, started).await;
    lock.release().await;
    result.map(TickOutcome::Done)
}

/// The tick proper, under the lock.
async fn run_locked(
    config: &Config,
    options: &TickOptions,
    started: Instant,
) -> Result<TickSummary, TickError> {
    let pool = store::pool(&config.db, config.engine.concurrency + 1)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let pending = migrate::pending(&client).await?;
    if !pending.is_empty() {
        let names: Vec<&str> = pending.iter().map(|m| m.name).collect();
        return Err(StoreError::Schema(format!(
            "the database at {} has {} pending migration(s) ({}); run `swf-alarms migrate --config <file>` first",
            config.db.target(),
            pending.len(),
            names.join(", ")
        ))
        .into());
    }
    let loading = Instant::now();
    let rows = store::alarms::load(&client).await?;
    let teams = store::alarms::load_teams(&client).await?;
    let silences = load_silences(&client, options.now.unwrap_or_else(time::now)).await?;
    let tick_load = loading.elapsed();

    // Clients are set up before the run row exists: a failure here means
    // the tick did nothing. None of them connects yet.
    let channel = if options.dry_run {
        None
    } else {
        let channel = notify::channel(&config.email)
            .await
            .map_err(|e| TickError::Setup(format!("the mail channel cannot be set up: {e}")))?;
        Some(channel)
    };
    let sources = Sources::new(config, pool.clone()).map_err(TickError::Setup)?;

    let started_at = options.now.unwrap_or_else(time::now);
    let run_id = runs::start(&client, started_at).await?;
    let mut ledger_notes = ledger::report_unfinished(&client, started_at).await;
    drop(client);
    tracing::info!(run = %run_id, alarms = rows.len(), dry_run = options.dry_run, "Tick started.");

    let deadline = tokio::time::Instant::from_std(started + config.engine.tick_timeout);
    let shared = Arc::new(Shared {
        pool: pool.clone(),
        teams,
        silences,
        channel,
        from: config.email.from.clone(),
        max_per_section: config.email.max_events_per_section,
        base_url: config.engine.service_base_url.clone(),
        run_id: run_id.clone(),
        now: options.now,
        alarm_timeout: config.engine.alarm_timeout,
        send_timeout: config.email.timeout,
        slots: Semaphore::new(config.engine.concurrency),
        sources,
    });
    let reports = run_alarms(&shared, rows, deadline, config.engine.tick_timeout).await;
    if let Some(panda) = &shared.sources.panda {
        tracing::debug!(
            requests = panda.requests_sent(),
            "PanDA requests sent this tick."
        );
    }

    let mut summary = TickSummary {
        run_id: run_id.clone(),
        ..TickSummary::default()
    };
    let mut per_alarm = Vec::with_capacity(reports.len());
    if let Ok(client) = pool.get().await {
        let now = options.now.unwrap_or_else(time::now);
        ledger_notes.extend(ledger::prune(&client, now, config.engine.ledger_retention).await);
    }
    let mut error_details = ledger_notes;
    for report in reports {
        summary.alarms_run += usize::from(report.ran);
        summary.cut_off += usize::from(report.cut_off);
        summary.alarms_errored += usize::from(report.errored);
        summary.detections += report.detections;
        summary.new_events += report.created;
        summary.cleared += report.cleared;
        summary.phases.add(&report.phases);
        summary.silenced += report.silenced_ids.len();
        match report.sent {
            Some(true) => summary.emails_sent += 1,
            Some(false) => summary.emails_failed += 1,
            None => {}
        }
        if !report.problems.is_empty() {
            error_details.push(format!("[{}] {}", report.key, report.problems.join("\n")));
        }
        if !report.cut_off {
            summary
                .active_events
                .push((report.key.clone(), report.active_after));
        }
        if report.ran || report.streak.is_some() {
            summary.consecutive_failures.push((
                report.key.clone(),
                report.streak.as_ref().map_or(0, |s| s.failures),
            ));
        }
        per_alarm.push(report.into_record());
    }
    summary.phases.load += tick_load;
    let finished_at = options.now.unwrap_or_else(time::now);
    let record = RunRecord {
        finished_at,
        alarms_run: summary.alarms_run,
        alarms_seen: summary.detections,
        notifications_sent: summary.emails_sent,
        errors: summary.alarms_errored,
        error_details: error_details.join("\n\n"),
        per_alarm: &per_alarm,
        events_silenced: (summary.silenced > 0).then_some(summary.silenced),
        events_new: summary.new_events,
        events_cleared: summary.cleared,
    };
    // From here on the alarms have run: a failure is reported, never
    // turned into "nothing was done". The next tick sends what was not
    // stamped; the run row stays `active`, which is what it is.
    let recording = Instant::now();
    let finished = async {
        let mut client = pool.get().await.map_err(StoreError::from)?;
        runs::finish(&mut client, &run_id, &record).await
    };
    let finished = finished.await;
    summary.phases.record = recording.elapsed();
    if let Err(error) = finished {
        let message = error_chain(&error, ": ");
        tracing::error!(run = %run_id, error = %message, "Closing the run row failed; the alarms ran, their record is incomplete.");
        summary.unrecorded = Some(message);
    } else if let Some(retention) = config.engine.retention {
        prune_old(&pool, finished_at - retention.as_secs_f64()).await;
    }
    summary.duration = started.elapsed();
    tracing::info!(
        run = %run_id,
        alarms_run = summary.alarms_run,
        detections = summary.detections,
        new = summary.new_events,
        cleared = summary.cleared,
        silenced = summary.silenced,
        emails_sent = summary.emails_sent,
        emails_failed = summary.emails_failed,
        errors = summary.alarms_errored,
        duration_ms = summary.duration.as_millis() as u64,
        "Tick finished."
    );
    summary.phases.log("Tick phases, summed over alarms.");
    Ok(summary)
}

/// Splits off live rows that share an `entry_id` with a newer one: two
/// rows running as one alarm would clear each other's events every tick.
/// The newest runs (as `alarm show` picks it); each other one fails, its
/// report keyed by its row id and naming both rows. `rows` come newest
/// first within an `entry_id` (see `store::alarms::load`).
fn split_duplicates(rows: Vec<AlarmRow>) -> (Vec<AlarmRow>, Vec<AlarmReport>) {
    let mut winners: HashMap<String, String> = HashMap::new();
    let mut runnable = Vec::with_capacity(rows.len());
    let mut failed = Vec::new();
    for row in rows {
        let key = report_key(&row);
        match winners.get(&key) {
            None => {
                winners.insert(key, row.id.clone());
                runnable.push(row);
            }
            Some(winner) => {
                let error = AlarmError::DuplicateEntryId {
                    entry_id: key,
                    id: row.id.clone(),
                    winner: winner.clone(),
                };
                tracing::error!(error = %error, "Alarm row did not run.");
                let mut report = AlarmReport::new(keys::row_key(&row.id));
                report.fail(error.to_string());
                failed.push(report);
            }
        }
    }
    (runnable, failed)
}

/// Batches of each kind of row one tick prunes at most: a backlog (the
/// first tick after retention is turned on) goes over several ticks.
const PRUNE_BATCHES_PER_TICK: usize = 10;

/// Deletes run rows and cleared events older than `cutoff`, bounded; a
/// failure is logged and left to the next tick (the alarms' work is done).
async fn prune_old(pool: &Pool, cutoff: f64) {
    let pruned = async {
        let client = pool.get().await.map_err(StoreError::from)?;
        store::prune::delete(&client, cutoff, PRUNE_BATCHES_PER_TICK).await
    };
    match pruned.await {
        Ok(pruned) if pruned.total() > 0 => tracing::info!(
            runs = pruned.runs,
            events = pruned.events,
            "Pruned rows older than engine.retention_days."
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(
            error = %error_chain(&error, ": "),
            "Pruning old rows failed; the next tick tries again."
        ),
    }
}

/// The silences in force at `now` (or starting later), by alarm. A row
/// that does not read as a silence is skipped with a warning (`check`
/// names it).
pub(crate) async fn load_silences(
    client: &impl deadpool_postgres::GenericClient,
    now: f64,
) -> Result<HashMap<String, Vec<Silence>>, StoreError> {
    let rows = store::silences::load_current(client, now).await?;
    let mut good = Vec::with_capacity(rows.len());
    for row in rows {
        match Silence::parse(&row.id, Some(&row.data)) {
            Ok(s) => good.push(s),
            Err(reason) => {
                tracing::warn!(silence = %row.id, reason = %reason, "Silence row is invalid; ignored.")
            }
        }
    }
    Ok(silence::by_alarm(good))
}

/// Runs every alarm in its own task, at most `concurrency` at a time, and
/// cuts off those still running at the tick's deadline.
async fn run_alarms(
    shared: &Arc<Shared>,
    rows: Vec<AlarmRow>,
    deadline: tokio::time::Instant,
    tick_timeout: Duration,
) -> Vec<AlarmReport> {
    let (rows, mut reports) = split_duplicates(rows);
    let mut tasks = JoinSet::new();
    let mut keys_by_task = HashMap::new();
    for row in rows {
        let key = report_key(&row);
        let shared = Arc::clone(shared);
        let span = tracing::info_span!("alarm", alarm = %key);
        let handle = tasks.spawn(
            async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _slot = shared.slots.acquire().await.ok();
                run_alarm(&shared, row).await
            }
            .instrument(span),
        );
        keys_by_task.insert(handle.id(), key);
    }
    reports.reserve(keys_by_task.len());
    loop {
        let joined = match tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await {
            Ok(Some(joined)) => joined,
            Ok(None) => break,
            Err(_) => {
                // Dropping an alarm's task rolls back its open transaction;
                // a bundle sent but not yet stamped goes out again next tick.
                tasks.abort_all();
                let mut late: Vec<String> = keys_by_task.into_values().collect();
                late.sort();
                tracing::error!(
                    alarms = %late.join(", "),
                    tick_timeout_s = tick_timeout.as_secs_f64(),
                    "Tick deadline passed; alarms still running were cut off."
                );
                for key in late {
                    let mut report = AlarmReport::new(key);
                    report.cut_off = true;
                    report.fail(format!(
                        "cut off by the tick's deadline (engine.tick_timeout = {} s); \
                         what it had not written is redone by the next tick",
                        tick_timeout.as_secs_f64()
                    ));
                    reports.push(report);
                }
                break;
            }
        };
        match joined {
            Ok((id, report)) => {
                keys_by_task.remove(&id);
                reports.push(report);
            }
            Err(error) => {
                // Only a bug in the engine itself lands here: detector
                // panics are caught closer to the detector.
                let key = keys_by_task.remove(&error.id()).unwrap_or_default();
                tracing::error!(alarm = %key, error = %error, "Alarm task failed.");
                let mut report = AlarmReport::new(key);
                report.fail(format!("engine task failed: {error}"));
                reports.push(report);
            }
        }
    }
    reports.sort_by(|a, b| a.key.cmp(&b.key));
    reports
}

/// The key of an alarm in the run record: its `entry_id`, or its row id
/// when the row has none.
fn report_key(row: &AlarmRow) -> String {
    keys::alarm_key(&row.id, row.data.as_ref())
}

/// Why an alarm failed this tick.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AlarmError {
    #[error("bad alarm row {id}: {reason}")]
    BadRow { id: String, reason: String },
    #[error(
        "alarm row {id} did not run: its data.entry_id {entry_id} is also the entry_id of live alarm \
         row {winner}, the newest, which ran instead; archive or delete one of the two rows"
    )]
    DuplicateEntryId {
        entry_id: String,
        id: String,
        winner: String,
    },
    #[error("no detector named {name:?} (from {origin}); registered: {known}")]
    UnknownDetector {
        name: String,
        origin: &'static str,
        known: String,
    },
    #[error("detector {detector} failed")]
    Detect {
        detector: String,
        source: DetectError,
    },
    #[error("database")]
    Store(#[from] StoreError),
    #[error("send failed; the events stay un-notified and go out with the next tick")]
    Send(#[source] SendError),
    #[error(
        "send timed out after {0:?}; the events stay un-notified and go out with the next tick"
    )]
    SendTimeout(Duration),
    #[error("no recipients: data.recipients resolves to no address; nothing was sent")]
    NoRecipients,
}

/// One alarm's outcome: its `per_alarm` entry of the run row, plus the
/// counts the summary needs.
#[derive(Debug)]
struct AlarmReport {
    key: String,
    phases: Phases,
    ran: bool,
    errored: bool,
    problems: Vec<String>,
    detections: usize,
    created: usize,
    cleared: usize,
    /// `None` when no send was attempted.
    sent: Option<bool>,
    /// Active events once this tick's changes are in.
    active_after: usize,
    /// Still running at the tick's deadline.
    cut_off: bool,
    /// Events a silence kept out of this tick's email.
    silenced_ids: Vec<String>,
    /// The detector's failing streak after this tick (`None`: it succeeded,
    /// or never ran).
    streak: Option<failing::Streak>,
    record: AlarmRecord,
}

impl AlarmReport {
    fn new(key: String) -> Self {
        AlarmReport {
            key,
            ran: false,
            errored: false,
            problems: Vec::new(),
            detections: 0,
            created: 0,
            cleared: 0,
            sent: None,
            active_after: 0,
            cut_off: false,
            streak: None,
            record: AlarmRecord::default(),
            phases: Phases::default(),
            silenced_ids: Vec::new(),
        }
    }

    fn fail(&mut self, message: String) {
        self.errored = true;
        self.problems.push(message);
    }

    /// The `per_alarm` entry, keyed by the alarm's `entry_id`.
    fn into_record(self) -> (String, AlarmRecord) {
        let mut record = self.record;
        record.alarms_seen = self.detections;
        record.errors = u8::from(self.errored);
        record.error_message = self.problems.join("\n");
        record.bundle_new = record.bundle_new_event_ids.len();
        record.bundle_renotify = record.bundle_renotify_event_ids.len();
        record.bundle_sent = self.sent == Some(true);
        record.bundle_resolved = record.bundle_resolved_event_ids.as_ref().map(Vec::len);
        record.failing_since = self.streak.as_ref().map(|s| s.since);
        record.consecutive_failures = self.streak.as_ref().map(|s| s.failures);
        if !self.silenced_ids.is_empty() {
            record.bundle_silenced = Some(self.silenced_ids.len());
            record.bundle_silenced_event_ids = Some(self.silenced_ids);
        }
        (self.key, record)
    }
}

/// Runs one alarm from its row to its report.
async fn run_alarm(shared: &Shared, row: AlarmRow) -> AlarmReport {
    let mut report = AlarmReport::new(report_key(&row));
    let alarm = match Alarm::parse(&row) {
        Ok(alarm) => alarm,
        Err(reason) => {
            let error = AlarmError::BadRow {
                id: row.id.clone(),
                reason,
            };
            tracing::error!(error = %error, "Alarm row is invalid; the alarm did not run.");
            report.fail(error.to_string());
            return report;
        }
    };
    report.record.enabled = alarm.enabled;
    report.record.params = alarm.params.clone();
    let resolved = recipients::resolve(&alarm.recipient_tokens, &shared.teams);
    report.record.recipients = resolved.addresses.clone();
    if !resolved.unresolved_teams.is_empty() {
        let teams = resolved.unresolved_teams.join(", ");
        tracing::warn!(teams = %teams, "Unresolved team(s) in data.recipients; skipped.");
        report.problems.push(format!(
            "unresolved team(s) in data.recipients, skipped: {teams}"
        ));
    }
    if !resolved.not_addresses.is_empty() {
        let tokens = format!("{:?}", resolved.not_addresses);
        tracing::warn!(tokens = %tokens, "Recipient token(s) that are not addresses; dropped.");
        report.problems.push(format!(
            "data.recipients (or a team): not an email address, dropped: {tokens}"
        ));
    }

    if let Err(error) = process(shared, &alarm, &resolved, &mut report).await {
        let message = error_chain(&error, "\n");
        tracing::error!(error = %error_chain(&error, ": "), "Alarm failed.");
        report.fail(message);
    }
    report
}

/// Steps 1–5 of the tick for one alarm, filling in `report` as it goes.
async fn process(
    shared: &Shared,
    alarm: &Alarm,
    resolved: &Resolved,
    report: &mut AlarmReport,
) -> Result<(), AlarmError> {
    // No connection is held while the detector runs: a slow upstream must
    // not pin the pool (database detectors need connections of their own).
    let loading = Instant::now();
    let (active, unsent_resolved, previous_streak) = {
        let client = shared.pool.get().await.map_err(StoreError::from)?;
        let events::Active {
            events: active,
            notes,
            stale,
        } = events::load_active(&client, &alarm.event_entry_id()).await?;
        if !stale.is_empty() {
            tracing::debug!(
                keys = stale.len(),
                "Active events archived, deleted or cleared outside the engine; their keys are released."
            );
        }
        for note in notes {
            tracing::warn!(problem = %note, "Unreadable event bookkeeping; handled.");
            report.problems.push(note);
        }
        let unsent = if alarm.notify_on_clear {
            events::load_unsent_resolved(&client, &alarm.event_entry_id(), shared.now()).await?
        } else {
            Vec::new()
        };
        let streak = health::load(&client, &alarm.entry_id).await?;
        (Loaded { active, stale }, unsent, streak)
    };
    let Loaded { active, stale } = active;
    report.active_after = active.len();

    report.phases.load = loading.elapsed();
    report.ran = alarms::find(&alarm.detector).is_some();
    let detecting = Instant::now();
    let (detections, failure) =
        match detect(&shared.sources, alarm, shared.alarm_timeout, shared.now()).await {
            Ok(detections) => (detections, None),
            Err(error) => (Vec::new(), Some(error)),
        };
    report.phases.detect = detecting.elapsed();
    let reconciling = Instant::now();
    let cut = detections
        .iter()
        .filter(|d| d.extra.contains_key("dedupe_key_full_length"))
        .count();
    if cut > 0 {
        report.problems.push(format!(
            "{cut} dedupe key(s) longer than {MAX_KEY_BYTES} bytes were cut, their tails hashed"
        ));
    }

    let now = shared.now();
    let message = failure.as_ref().map(|e| match e {
        // The event names the detector already: keep the error itself.
        AlarmError::Detect { source, .. } => error_chain(source, ": "),
        other => error_chain(other, ": "),
    });
    let streak = failing::next_streak(previous_streak.as_ref(), message.as_deref(), now);
    report.streak = streak.clone();
    let failing_detection = streak.as_ref().and_then(|s| {
        failing::detection(
            &alarm.entry_id,
            &alarm.detector,
            s,
            alarm.detector_failing_after_minutes * 60.0,
            now,
        )
    });
    // Known to fire despite a failure: what a partly failed detector
    // judged, and the alarm's own detector_failing event when due.
    let firing: Vec<Detection> = match &failure {
        Some(AlarmError::Detect {
            source: DetectError::Partial { detections, .. },
            ..
        }) => detections.clone(),
        _ => Vec::new(),
    }
    .into_iter()
    .chain(failing_detection)
    .collect();
    let outcome = match failure {
        None => Outcome::Detected(&detections),
        Some(_) => Outcome::Failed { firing: &firing },
    };
    let mut plan = reconcile(
        &active,
        &unsent_resolved,
        outcome,
        now,
        alarm.policy(),
        // Time-ordered ids: the events an alarm creates together stay
        // together in entry's primary key, which each later tick probes.
        || uuid::Uuid::now_v7().to_string(),
    );
    let silences = shared
        .silences
        .get(&alarm.entry_id)
        .map_or(&[][..], Vec::as_slice);
    let silenced = silence::apply(&mut plan, &alarm.entry_id, silences, now);
    // A failed detector is this alarm's error; its own event (if due) is
    // still written and mailed, and a failure to do so is recorded too.
    let health = HealthChange {
        streak: streak.as_ref(),
        changed: previous_streak.is_some() || streak.is_some(),
    };
    let loaded = Loaded { active, stale };
    report.phases.reconcile = reconciling.elapsed();
    let changes = Changes {
        plan: &plan,
        health,
        silenced: &silenced,
    };
    let settled = settle(shared, alarm, resolved, report, &loaded, changes, now).await;
    match failure {
        None => settled,
        Some(error) => {
            if let Err(other) = settled {
                tracing::error!(error = %error_chain(&other, ": "), "Alarm failed.");
                report.fail(error_chain(&other, "\n"));
            }
            Err(error)
        }
    }
}

/// The streak to record for an alarm this tick.
#[derive(Debug, Clone, Copy)]
struct HealthChange<'a> {
    /// The streak after this tick (`None`: the detector succeeded).
    streak: Option<&'a failing::Streak>,
    /// Whether it differs from what is stored (healthy alarms write nothing).
    changed: bool,
}

/// Everything one alarm's tick decided, ready to be written and sent.
#[derive(Debug, Clone, Copy)]
struct Changes<'a, 'd> {
    /// Its events (email sections without what is silenced).
    plan: &'a Plan<'d>,
    /// Its failing streak.
    health: HealthChange<'a>,
    /// What silences took out of the email.
    silenced: &'a Silenced,
}

/// Steps 3–5 once the plan is made. The email goes out first, and the
/// alarm's changes are written after it in one transaction that carries
/// the notified stamps too: each event row is written once per tick,
/// instead of written and then stamped (half the row writes of a tick that
/// creates many events). A failed send writes the changes unstamped, so
/// the next tick carries the events again. A tick killed between the send
/// and the write leaves its ledger row `sending` and no events, so the
/// next tick reports that send and makes and sends them again: delivery
/// stays at least once.
async fn settle(
    shared: &Shared,
    alarm: &Alarm,
    resolved: &Resolved,
    report: &mut AlarmReport,
    loaded: &Loaded,
    changes: Changes<'_, '_>,
    now: f64,
) -> Result<(), AlarmError> {
    let plan = changes.plan;
    let mut client = shared.pool.get().await.map_err(StoreError::from)?;
    let sending = Instant::now();
    let delivered = send_bundle(shared, alarm, resolved, report, &client, changes).await;
    report.phases.send = sending.elapsed();
    let writing = Instant::now();
    let sent_at = delivered.as_ref().ok().copied().flatten();
    let written = persist(
        &mut client,
        alarm,
        &resolved.addresses,
        loaded,
        changes,
        now,
        sent_at,
    )
    .await;
    report.phases.write = writing.elapsed();
    report.phases.log("Alarm phases.");
    if written.is_ok() {
        report.active_after = loaded.active.len() + plan.create.len() - plan.clear.len();
    }
    match (delivered, written) {
        (Ok(_), Ok(())) => Ok(()),
        (Err(send), Ok(())) => Err(send),
        (Ok(_), Err(write)) => Err(write.into()),
        (Err(send), Err(write)) => {
            report.fail(error_chain(&send, "\n"));
            Err(write.into())
        }
    }
}

/// Step 5: composes and sends the alarm's email, if one is due; when it
/// was sent, the time it went out (the events' notified stamp).
async fn send_bundle(
    shared: &Shared,
    alarm: &Alarm,
    resolved: &Resolved,
    report: &mut AlarmReport,
    client: &deadpool_postgres::Client,
    changes: Changes<'_, '_>,
) -> Result<Option<f64>, AlarmError> {
    let plan = changes.plan;
    report.silenced_ids = changes
        .silenced
        .firing
        .iter()
        .map(|i| i.event_id.clone())
        .chain(changes.silenced.resolved.iter().cloned())
        .collect();
    report.detections = plan.detected();
    report.created = plan.create.len();
    report.cleared = plan.clear.len();
    report.record.bundle_new_event_ids =
        plan.bundle_new.iter().map(|i| i.event_id.clone()).collect();
    report.record.bundle_renotify_event_ids = plan
        .bundle_renotify
        .iter()
        .map(|i| i.event_id.clone())
        .collect();
    report.record.bundle_resolved_event_ids = alarm.notify_on_clear.then(|| {
        plan.bundle_resolved
            .iter()
            .map(|r| r.event_id.clone())
            .collect()
    });
    if plan.held > 0 {
        tracing::debug!(
            held = plan.held,
            "Events held back by notify_after_minutes."
        );
    }
    for item in plan.bundle_new.iter().chain(&plan.bundle_renotify) {
        tracing::trace!(event = %item.event_id, key = %item.detection.dedupe_key, reason = ?item.reason, "Bundled.");
    }
    if !plan.has_bundle() {
        return Ok(None);
    }

    let mut bundle = compose(
        &alarm.entry_id,
        &alarm.description,
        &plan.bundle_new,
        &plan.bundle_renotify,
        &plan.bundle_resolved,
        Limits {
            max_per_section: shared.max_per_section,
            full_list: &compose::run_report(
                shared.base_url.as_deref(),
                &shared.run_id,
                &alarm.entry_id,
            ),
        },
    );
    if changes.silenced.count() > 0 {
        bundle.body.push_str(&format!(
            "\nSilenced, not listed: {} event(s) (see `swf-alarms silence list`).\n",
            changes.silenced.count()
        ));
    }
    report.record.bundle_subject = bundle.subject.clone();
    let Some(channel) = shared.channel.as_deref() else {
        tracing::info!(
            "Dry run: email composed, not sent.\nTo: {}\nSubject: {}\n\n{}",
            resolved.addresses.join(", "),
            bundle.subject,
            bundle.body.trim_end()
        );
        return Ok(None);
    };
    if !alarm.enabled {
        tracing::info!(subject = %bundle.subject, "Alarm disabled: email composed, not sent.");
        return Ok(None);
    }
    if resolved.addresses.is_empty() {
        return Err(AlarmError::NoRecipients);
    }
    let message = Message {
        from: shared.from.clone(),
        to: resolved.addresses.clone(),
        subject: bundle.subject,
        body: bundle.body,
    };
    report.sent = Some(false);
    let in_bundle: Vec<String> = report
        .record
        .bundle_new_event_ids
        .iter()
        .chain(&report.record.bundle_renotify_event_ids)
        .chain(report.record.bundle_resolved_event_ids.iter().flatten())
        .cloned()
        .collect();
    let send = store::ledger::NewSend {
        alarm: &alarm.entry_id,
        run_id: &shared.run_id,
        recipients: &message.to,
        subject: &message.subject,
        event_ids: &in_bundle,
        provider: channel.name(),
    };
    let ledger_row = store::ledger::begin(client, &send, shared.now()).await?;
    let (attempts, delivered) = deliver(
        channel,
        &message,
        shared.send_timeout,
        Instant::now() + shared.alarm_timeout,
    )
    .await;
    let outcome = match &delivered {
        Ok(message_id) => store::ledger::Finished::Sent {
            message_id: message_id.clone(),
        },
        Err(error) => store::ledger::Finished::Failed {
            error: error_chain(error, ": "),
        },
    };
    // Not recorded, the row stays `sending` and the next tick reports it.
    if let Err(error) =
        store::ledger::finish(client, ledger_row, attempts, &outcome, shared.now()).await
    {
        tracing::warn!(error = %error_chain(&error, ": "), "Recording the send in the ledger failed.");
        report.problems.push(error_chain(&error, ": "));
    }
    delivered?;
    report.sent = Some(true);
    tracing::info!(subject = %message.subject, to = message.to.len(), channel = channel.name(), "Email sent.");
    Ok(Some(shared.now()))
}

/// The first pause before a send is tried again; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Attempts of one send within a tick, the first included.
const SEND_ATTEMPTS: u32 = 4;

/// Step 5: sends the bundle, each attempt under `per_attempt`. A transient
/// failure (refused connection, a 4xx reply) is tried again after a
/// growing pause, as long as the pause ends before `deadline` (the
/// alarm's); a permanent one, or a timed-out attempt (the relay may have
/// taken the message), ends it at once and the next tick tries again.
/// Returns the attempts made with the outcome (the provider's message id).
async fn deliver(
    channel: &dyn Channel,
    message: &Message,
    per_attempt: Duration,
    deadline: Instant,
) -> (u32, Result<Option<String>, AlarmError>) {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let error = match tokio::time::timeout(per_attempt, channel.send(message)).await {
            Ok(Ok(message_id)) => {
                if attempt > 1 {
                    tracing::info!(attempt, "Send succeeded on a retry.");
                }
                return (attempt, Ok(message_id));
            }
            Ok(Err(error)) => error,
            Err(_) => return (attempt, Err(AlarmError::SendTimeout(per_attempt))),
        };
        let retry =
            error.transient && attempt < SEND_ATTEMPTS && Instant::now() + backoff < deadline;
        if !retry {
            return (attempt, Err(AlarmError::Send(error)));
        }
        tracing::warn!(attempt, error = %error, retry_in_ms = backoff.as_millis() as u64, "Send failed; trying again.");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

/// Step 2: runs the detector in its own task, so that a panic or a hang
/// is this alarm's error and nobody else's.
pub(crate) async fn detect(
    sources: &Sources,
    alarm: &Alarm,
    timeout: Duration,
    now: f64,
) -> Result<Vec<Detection>, AlarmError> {
    detect_in(sources.ctx(now, &alarm.entry_id), alarm, timeout).await
}

/// Runs the alarm's detector with this context (a tick's sources, or a
/// replay's history), in its own task under `timeout`.
pub(crate) async fn detect_in(
    ctx: alarms::Ctx,
    alarm: &Alarm,
    timeout: Duration,
) -> Result<Vec<Detection>, AlarmError> {
    let Some(registration) = alarms::find(&alarm.detector) else {
        return Err(AlarmError::UnknownDetector {
            name: alarm.detector.clone(),
            origin: if alarm.entry_id.strip_prefix("alarm_") == Some(alarm.detector.as_str()) {
                "data.entry_id; set data.detector to choose one explicitly"
            } else {
                "data.detector"
            },
            known: alarms::registry()
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let failed = |source| AlarmError::Detect {
        detector: registration.name.to_owned(),
        source,
    };
    let mut task = tokio::spawn((registration.detect)(ctx, alarm.params.clone()));
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(Ok(mut detections))) => {
            cap_keys(&alarm.entry_id, &mut detections);
            Ok(detections)
        }
        Ok(Ok(Err(DetectError::Partial {
            mut detections,
            message,
        }))) => {
            cap_keys(&alarm.entry_id, &mut detections);
            Err(failed(DetectError::Partial {
                detections,
                message,
            }))
        }
        Ok(Ok(Err(DetectError::InvalidParams(message)))) => {
            // serde's type errors do not say which param; the schema
            // check (as `check` runs it) does, param by param.
            let named = crate::schema::problems(registration, &alarm.params);
            Err(failed(DetectError::InvalidParams(if named.is_empty() {
                message
            } else {
                named.join("; ")
            })))
        }
        Ok(Ok(Err(error))) => Err(failed(error)),
        Ok(Err(join_error)) => Err(failed(DetectError::Panicked(panic_message(join_error)))),
        Err(_) => {
            task.abort();
            Err(failed(DetectError::Timeout(timeout)))
        }
    }
}

/// The longest dedupe key kept as it is, in bytes. Postgres cannot index
/// a much longer one (the unique index on active events would refuse the
/// insert and sink every detection of the alarm with it).
pub(crate) const MAX_KEY_BYTES: usize = 512;

/// Where a cut key's kept head ends and the hash of the whole key starts.
const KEY_CUT_MARK: &str = "…#";

/// Cuts over-long dedupe keys to [`MAX_KEY_BYTES`]: the head, then a hash
/// of the whole key, so distinct entities keep distinct keys and the same
/// entity keeps the same key every tick. The detection records the
/// original length in `dedupe_key_full_length`, and a warning says so.
fn cap_keys(alarm: &str, detections: &mut [Detection]) {
    use sha2::Digest;
    for detection in detections {
        let key = &detection.dedupe_key;
        if key.len() <= MAX_KEY_BYTES {
            continue;
        }
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let mut head = MAX_KEY_BYTES - KEY_CUT_MARK.len() - hash.len();
        while !key.is_char_boundary(head) {
            head -= 1;
        }
        let capped = format!("{}{KEY_CUT_MARK}{hash}", &key[..head]);
        tracing::warn!(
            alarm = %alarm,
            length = key.len(),
            key = %capped,
            "Dedupe key too long; cut, its tail hashed."
        );
        detection.extra.insert(
            "dedupe_key_full_length".into(),
            serde_json::json!(key.len()),
        );
        detection.dedupe_key = capped;
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

/// Steps 3–5's writes: the plan in one transaction, one statement per
/// kind of change. New events are created with their fire-time words and
/// data; continuing and cleared ones get bookkeeping only. With `sent_at`
/// (the email went out), the events it carried get their notified stamp
/// in the same statements.
async fn persist(
    client: &mut deadpool_postgres::Client,
    alarm: &Alarm,
    recipients: &[String],
    loaded: &Loaded,
    changes: Changes<'_, '_>,
    now: f64,
    sent_at: Option<f64>,
) -> Result<(), StoreError> {
    let Changes {
        plan,
        health,
        silenced,
    } = changes;
    if plan.create.is_empty()
        && plan.touch.is_empty()
        && plan.clear.is_empty()
        && !health.changed
        && loaded.stale.is_empty()
        && sent_at.is_none()
    {
        return Ok(());
    }
    let event_entry_id = alarm.event_entry_id();
    let stamps = Stamps::new(plan, alarm.notify_on_clear, sent_at);
    let inserts: Vec<EventRow> = plan
        .create
        .iter()
        .enumerate()
        .map(|(i, new)| {
            let data = EventData {
                entry_id: &event_entry_id,
                fire_time: creation_time(now, i),
                dedupe_key: &new.detection.dedupe_key,
                subject: &new.detection.subject,
                severity: &alarm.severity,
                recipients,
                alarm_config_id: &alarm.id,
                context: &new.detection.extra,
                last_notified: sent_at.filter(|_| stamps.notified.contains(new.id.as_str())),
            };
            EventRow::new(&new.id, &alarm.description, &new.detection.body, data)
        })
        .collect();
    let (touched_notified, touched): (Vec<String>, Vec<String>) = plan
        .touch
        .iter()
        .map(|t| t.id.clone())
        .partition(|id| stamps.notified.contains(id.as_str()));
    let (cleared_recovered, cleared): (Vec<String>, Vec<String>) = plan
        .clear
        .iter()
        .cloned()
        .partition(|id| stamps.recovered.contains(id.as_str()));
    let claimed_keys: Vec<&str> = plan
        .create
        .iter()
        .map(|n| n.detection.dedupe_key.as_str())
        .collect();
    let claimed_ids: Vec<&str> = plan.create.iter().map(|n| n.id.as_str()).collect();
    let released: Vec<&str> = loaded.released_keys(&plan.clear);
    // Cleared events an email carried: their recovery notice is owed until
    // sent (those a silence held back too: their notice follows it).
    let cleared_ids: HashSet<&str> = plan.clear.iter().map(String::as_str).collect();
    let owed: Vec<String> = if alarm.notify_on_clear {
        plan.bundle_resolved
            .iter()
            .map(|r| &r.event_id)
            .chain(&silenced.resolved)
            .filter(|id| {
                cleared_ids.contains(id.as_str()) && !stamps.recovered.contains(id.as_str())
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    // Never-mailed events a silence keeps out are marked, so that they go
    // out as new notices once it is over.
    let marked: Vec<String> = silenced
        .firing
        .iter()
        .filter(|i| i.needs_mark())
        .map(|i| i.event_id.clone())
        .collect();
    let txn = client
        .transaction()
        .await
        .map_err(store::ctx("starting the alarm's transaction"))?;
    events::claim_keys(
        &txn,
        &event_entry_id,
        &released,
        &claimed_keys,
        &claimed_ids,
    )
    .await?;
    events::insert(&txn, &inserts).await?;
    let seen = (Bookkeeping::LastSeen, now);
    let cleared_now = (Bookkeeping::ClearTime, now);
    events::stamp(&txn, &touched, &[seen], "touching events").await?;
    events::stamp(&txn, &cleared, &[cleared_now], "clearing events").await?;
    if let Some(at) = sent_at {
        let notified = (Bookkeeping::LastNotified, at);
        let recovered = (Bookkeeping::ClearNotified, at);
        events::stamp(
            &txn,
            &touched_notified,
            &[seen, notified],
            "touching events and marking them notified",
        )
        .await?;
        events::stamp(
            &txn,
            &cleared_recovered,
            &[cleared_now, recovered],
            "clearing events and marking their recovery notices sent",
        )
        .await?;
        // Every emailed NEW or CONTINUING event is created or touched
        // above (reconcile bundles nothing else); a RESOLVED one may have
        // cleared in an earlier tick, whose notice was owed until now.
        debug_assert!({
            let written: HashSet<&str> = claimed_ids
                .iter()
                .copied()
                .chain(plan.touch.iter().map(|t| t.id.as_str()))
                .collect();
            stamps.notified.is_subset(&written)
        });
        let mut recovered_earlier: Vec<String> = stamps
            .recovered
            .iter()
            .filter(|id| !cleared_ids.contains(**id))
            .map(|id| (*id).to_owned())
            .collect();
        recovered_earlier.sort_unstable();
        events::stamp(
            &txn,
            &recovered_earlier,
            &[recovered],
            "marking recovery notices sent",
        )
        .await?;
        if alarm.notify_on_clear {
            let sent: Vec<String> = stamps.recovered.iter().map(|id| (*id).to_owned()).collect();
            events::settle_recovery(&txn, &sent, at).await?;
        }
    }
    events::owe_recovery(&txn, &event_entry_id, &owed, now).await?;
    events::stamp(
        &txn,
        &marked,
        &[(Bookkeeping::SilencedAt, now)],
        "marking silenced events",
    )
    .await?;
    if health.changed {
        health::save(&txn, &alarm.entry_id, health.streak, now).await?;
    }
    txn.commit()
        .await
        .map_err(store::ctx("committing the alarm's changes"))
}

/// The events a sent email carried, by kind of stamp they get.
struct Stamps<'p> {
    /// In its NEW or CONTINUING section: `last_notified`.
    notified: HashSet<&'p str>,
    /// In its RESOLVED section: `clear_notified`.
    recovered: HashSet<&'p str>,
}

impl<'p> Stamps<'p> {
    /// Nothing unless the email was sent.
    fn new(plan: &'p Plan<'_>, notify_on_clear: bool, sent_at: Option<f64>) -> Self {
        if sent_at.is_none() {
            return Stamps {
                notified: HashSet::new(),
                recovered: HashSet::new(),
            };
        }
        Stamps {
            notified: plan
                .bundle_new
                .iter()
                .chain(&plan.bundle_renotify)
                .map(|i| i.event_id.as_str())
                .collect(),
            recovered: if notify_on_clear {
                plan.bundle_resolved
                    .iter()
                    .map(|r| r.event_id.as_str())
                    .collect()
            } else {
                HashSet::new()
            },
        }
    }
}

/// An alarm's active events as loaded at the start of its tick.
struct Loaded {
    active: Vec<ActiveEvent>,
    /// Keys whose recorded event is no longer active.
    stale: Vec<String>,
}

impl Loaded {
    /// The keys to release in `swf_alarms_active_event`: the stale ones
    /// and those of the events cleared now.
    fn released_keys<'a>(&'a self, cleared: &[String]) -> Vec<&'a str> {
        let cleared: HashSet<&str> = cleared.iter().map(String::as_str).collect();
        self.active
            .iter()
            .filter(|e| cleared.contains(e.id.as_str()))
            .map(|e| e.dedupe_key.as_str())
            .chain(self.stale.iter().map(String::as_str))
            .collect()
    }
}

/// The creation time of the `index`-th event created this tick: one
/// microsecond apart in detection order, so that the dashboard's
/// newest-first list has a stable order (a float8 near 2^31 resolves
/// steps of 0.24 µs).
pub(crate) fn creation_time(now: f64, index: usize) -> f64 {
    now + index as f64 * 1e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_dedupe_keys_are_cut_stably_and_stay_distinct() {
        let long = |tail: &str| Detection::new(format!("{}{tail}", "é".repeat(3000)), "s", "b");
        let mut dets = vec![
            long("a"),
            long("b"),
            long("a"),
            Detection::new("short", "s", "b"),
        ];
        cap_keys("alarm_x", &mut dets);
        assert!(dets.iter().all(|d| d.dedupe_key.len() <= MAX_KEY_BYTES));
        assert_ne!(dets[0].dedupe_key, dets[1].dedupe_key);
        assert_eq!(dets[0].dedupe_key, dets[2].dedupe_key);
        assert_eq!(dets[0].extra["dedupe_key_full_length"], 6001);
        assert_eq!(dets[3].dedupe_key, "short");
        assert!(dets[3].extra.get("dedupe_key_full_length").is_none());
    }

    #[test]
    fn events_of_one_tick_get_distinct_increasing_creation_times() {
        let now = 1_800_000_000.25;
        let times: Vec<f64> = (0..10_000).map(|i| creation_time(now, i)).collect();
        assert_eq!(times[0], now);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(times[9_999] - now < 0.011);
    }
}
