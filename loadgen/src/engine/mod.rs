//! The clients of one process on the `shard` runtime: one glommio executor per thread,
//! each running its share of the clients as tasks and reporting [`Event`]s to the
//! process's coordinator over a channel (once a second, not per message).

mod client;
mod conn;
mod latch;
pub mod publisher;
pub mod subscriber;
pub mod template;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use shard::glommio;
use shard::glommio::sync::Semaphore;
use shard::{Runtime, RuntimeConfig, RuntimeHandle, ShardContext};

use self::client::{ClientReport, ClientSpec, Role};
use self::latch::Latch;
use crate::cli::{Plan, Scenario};
use crate::clock;
use crate::hist::Hist;
use crate::limits::{FDS_RESERVED, INTERVAL_MS, READ_SCRATCH_BYTES};
use crate::report::{
    push_error, Command, Counters, Event, FinalReport, Interval, PublisherReport, Ready, Reception,
};
use crate::seq::SeqTracker;

/// How often a shard looks at the coordinator's commands, ms.
const CONTROL_POLL_MS: u64 = 5;

/// The coordinator's commands as seen by the shards of one process. One per process.
#[derive(Debug, Default)]
pub struct Control {
    start_ns: AtomicU64,
    drain: AtomicBool,
    abort: AtomicBool,
}

impl Control {
    /// Carries out `command`.
    pub fn apply(&self, command: Command) {
        match command {
            Command::Go(start_ns) => self.start_ns.store(start_ns.max(1), Ordering::Release),
            Command::Drain => self.drain.store(true, Ordering::Release),
            Command::Abort => self.abort.store(true, Ordering::Release),
        }
    }
}

/// A started engine: its events, its controls, its runtime.
#[derive(Debug)]
pub struct Engine {
    /// (shard id, event) from every shard.
    pub events: mpsc::Receiver<(usize, Event)>,
    /// Where commands go.
    pub control: Arc<Control>,
    /// The runtime, to join at the end.
    pub runtime: RuntimeHandle,
    /// Shards started.
    pub shards: usize,
}

/// The clients of `proc_index` (of `plan.procs`) on `shard` (of `shards`): client `i` of
/// a kind runs in process `i % procs`, on shard `(i / procs) % shards`. Subscribers first,
/// so that they connect first.
fn clients_of(plan: &Plan, proc_index: usize, shard: usize, shards: usize) -> Vec<ClientSpec> {
    let mine = |i: usize| i % plan.procs == proc_index && (i / plan.procs) % shards == shard;
    let mut out = Vec::new();
    let mut push = |role: Role, number: usize| {
        let ordinal = out.len();
        out.push(ClientSpec {
            role,
            number,
            ordinal,
        });
    };
    match plan.scenario {
        Scenario::ConnStorm => {}
        Scenario::Idle => {
            for c in (0..plan.connections).filter(|&c| mine(c)) {
                push(Role::Idle(c), c);
            }
        }
        _ => {
            for s in (0..plan.subscribers).filter(|&s| mine(s)) {
                push(Role::Subscriber(s), s);
            }
            for p in (0..plan.publishers).filter(|&p| mine(p)) {
                push(Role::Publisher(p), plan.subscribers + p);
            }
        }
    }
    out
}

/// Sockets this process holds at once, at most.
fn sockets_of_process(plan: &Plan, proc_index: usize) -> u64 {
    let count = |n: usize| (0..n).filter(|i| i % plan.procs == proc_index).count() as u64;
    match plan.scenario {
        Scenario::ConnStorm => (plan.connect_concurrency * plan.threads) as u64,
        Scenario::Idle => count(plan.connections),
        _ => count(plan.subscribers) + count(plan.publishers),
    }
}

/// Raises the open-file soft limit to the hard one and checks that the process's sockets
/// fit.
fn check_open_files(plan: &Plan, proc_index: usize) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: a valid pointer; raising the soft limit up to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let needed = sockets_of_process(plan, proc_index) + FDS_RESERVED;
    if needed > lim.rlim_cur {
        return Err(format!(
            "this process would hold {} sockets but may open {} files (ulimit -n); use \
             --procs N to spread them over processes, or raise the limit (see tuning/)",
            needed - FDS_RESERVED,
            lim.rlim_cur
        ));
    }
    Ok(())
}

/// Starts the shards of process `proc_index`; they connect at once and wait for
/// [`Command::Go`].
pub fn start(plan: Arc<Plan>, proc_index: usize) -> Result<Engine, String> {
    check_open_files(&plan, proc_index)?;
    let (tx, rx) = mpsc::channel();
    let control = Arc::new(Control::default());
    let config = RuntimeConfig {
        shard_count: plan.threads,
        pin_cores: plan.pin,
        stall_detection: false,
        ..RuntimeConfig::default()
    };
    let shards = plan.threads;
    let runtime = Runtime::start(config, {
        let control = Arc::clone(&control);
        move |ctx: ShardContext<()>| {
            shard_main(
                ctx,
                Arc::clone(&plan),
                Arc::clone(&control),
                tx.clone(),
                proc_index,
            )
        }
    })
    .map_err(|e| format!("cannot start the shards: {e}"))?;
    Ok(Engine {
        events: rx,
        control,
        runtime,
        shards,
    })
}

/// Per-shard counters, bumped by the shard's client tasks.
#[derive(Debug, Default)]
pub struct ShardCounters {
    connected: Cell<u64>,
    connect_failed: Cell<u64>,
    closed_early: Cell<u64>,
    sent: Cell<u64>,
    acked: Cell<u64>,
    ack_failed: Cell<u64>,
    received: Cell<u64>,
    foreign: Cell<u64>,
}

impl ShardCounters {
    fn snapshot(&self) -> Counters {
        Counters {
            connected: self.connected.get(),
            connect_failed: self.connect_failed.get(),
            closed_early: self.closed_early.get(),
            sent: self.sent.get(),
            acked: self.acked.get(),
            ack_failed: self.ack_failed.get(),
            received: self.received.get(),
            foreign: self.foreign.get(),
        }
    }
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

#[derive(Debug, Default)]
struct ShardHists {
    total: [Hist; 4],
    interval: [Hist; 4],
}

const E2E: usize = 0;
const ACK: usize = 1;
const CONNECT: usize = 2;
const SEND_LAG: usize = 3;

/// Everything one shard's clients share. One per shard.
#[derive(Debug)]
pub struct ShardState {
    plan: Arc<Plan>,
    /// Where every read of this shard lands first.
    scratch: RefCell<Vec<u8>>,
    counters: ShardCounters,
    hists: RefCell<ShardHists>,
    go: Latch,
    drain: Latch,
    abort: Latch,
    start_ns: Cell<u64>,
    setup_start_ns: u64,
    connect_permits: Rc<Semaphore>,
    setup_pending: Cell<usize>,
    setup_done: Latch,
    ready: RefCell<Ready>,
    producers_pending: Cell<usize>,
    clients_running: Cell<usize>,
    publishers: RefCell<Vec<PublisherReport>>,
    receptions: RefCell<BTreeMap<(u32, u32), SeqTracker>>,
    errors: RefCell<Vec<String>>,
    errors_total: Cell<u64>,
}

impl ShardState {
    fn error(&self, e: String) {
        self.errors_total.set(self.errors_total.get() + 1);
        push_error(&mut self.errors.borrow_mut(), e);
    }

    /// A client's setup ended, with `error` if it failed.
    fn setup_finished(&self, spec: &ClientSpec, error: Option<String>) {
        match error {
            None => {
                bump(&self.counters.connected);
                self.ready.borrow_mut().connected += 1;
            }
            Some(e) => {
                bump(&self.counters.connect_failed);
                let mut ready = self.ready.borrow_mut();
                ready.failed += 1;
                push_error(&mut ready.errors, e.clone());
                drop(ready);
                self.error(e);
                if spec.is_producer() {
                    self.producer_done();
                }
            }
        }
        self.setup_pending.set(self.setup_pending.get() - 1);
        if self.setup_pending.get() == 0 {
            self.setup_done.set();
        }
    }

    /// A connected client's connection failed before the end.
    fn connection_failed(&self, e: String) {
        bump(&self.counters.closed_early);
        self.error(e);
    }

    /// A conn-storm connection failed.
    fn storm_failed(&self, e: String) {
        bump(&self.counters.connect_failed);
        self.error(e);
    }

    /// The conn-storm driver of this shard is done.
    fn storm_done(&self) {
        self.producer_done();
        self.client_finished(ClientReport::Nothing);
    }

    /// A publisher (or holder, or the storm driver) will produce no more.
    fn producer_done(&self) {
        self.producers_pending.set(self.producers_pending.get() - 1);
    }

    /// A client task ended with `report`.
    fn client_finished(&self, report: ClientReport) {
        match report {
            ClientReport::Publisher(p) => self.publishers.borrow_mut().push(p),
            ClientReport::Subscriber(rs) => {
                let mut map = self.receptions.borrow_mut();
                for r in rs {
                    match map.entry((r.scope, r.publisher)) {
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert(r.tracker);
                        }
                        std::collections::btree_map::Entry::Occupied(mut o) => {
                            o.get_mut().merge(&r.tracker)
                        }
                    }
                }
            }
            ClientReport::Nothing => {}
        }
        self.clients_running.set(self.clients_running.get() - 1);
    }

    fn record(&self, which: usize, ns: u64) {
        let mut h = self.hists.borrow_mut();
        h.total[which].record_ns(ns);
        h.interval[which].record_ns(ns);
    }

    /// A connection got its CONNACK `ns` after it began (or was meant to).
    fn record_connect(&self, ns: u64) {
        if self.plan.scenario == Scenario::ConnStorm {
            bump(&self.counters.connected);
        }
        self.record(CONNECT, ns);
    }

    /// A message of this run arrived, `latency_ns` after its intended send time.
    fn record_received(&self, latency_ns: u64) {
        bump(&self.counters.received);
        self.record(E2E, latency_ns);
    }

    /// A publish was acknowledged `latency_ns` after its intended send time.
    fn record_ack(&self, latency_ns: u64) {
        self.record(ACK, latency_ns);
    }

    /// An open-loop message was written `lag_ns` after its intended send time.
    fn record_send_lag(&self, lag_ns: u64) {
        self.record(SEND_LAG, lag_ns);
    }

    fn take_interval(&self, index: u32) -> Interval {
        let mut h = self.hists.borrow_mut();
        let [e2e, ack, connect, send_lag] = std::mem::take(&mut h.interval);
        Interval {
            index,
            counters: self.counters.snapshot(),
            e2e,
            ack,
            connect,
            send_lag,
        }
    }

    fn final_report(&self) -> FinalReport {
        let [e2e, ack, connect, send_lag] = std::mem::take(&mut self.hists.borrow_mut().total);
        let mut publishers = self.publishers.take();
        publishers.sort_by_key(|p| p.id);
        FinalReport {
            counters: self.counters.snapshot(),
            e2e,
            ack,
            connect,
            send_lag,
            publishers,
            receptions: self
                .receptions
                .take()
                .into_iter()
                .map(|((scope, publisher), tracker)| Reception {
                    scope,
                    publisher,
                    tracker,
                })
                .collect(),
            errors: self.errors.take(),
            errors_total: self.errors_total.get(),
        }
    }
}

async fn shard_main(
    ctx: ShardContext<()>,
    plan: Arc<Plan>,
    control: Arc<Control>,
    tx: mpsc::Sender<(usize, Event)>,
    proc_index: usize,
) {
    let shard_id = ctx.shard_id();
    let send = |event: Event| {
        // The coordinator outlives the shards; a closed channel means it gave up.
        let _ = tx.send((shard_id, event));
    };
    let specs = clients_of(&plan, proc_index, shard_id, ctx.shard_count());
    let storm_ids: Vec<usize> = if plan.scenario == Scenario::ConnStorm {
        (0..plan.connections)
            .filter(|&c| {
                c % plan.procs == proc_index && (c / plan.procs) % ctx.shard_count() == shard_id
            })
            .collect()
    } else {
        Vec::new()
    };
    let storm = plan.scenario == Scenario::ConnStorm;
    let st = Rc::new(ShardState {
        scratch: RefCell::new(vec![0; READ_SCRATCH_BYTES]),
        counters: ShardCounters::default(),
        hists: RefCell::default(),
        go: Latch::default(),
        drain: Latch::default(),
        abort: Latch::default(),
        start_ns: Cell::new(0),
        setup_start_ns: clock::now_ns(),
        connect_permits: Rc::new(Semaphore::new(plan.connect_concurrency as u64)),
        setup_pending: Cell::new(specs.len()),
        setup_done: Latch::default(),
        ready: RefCell::default(),
        producers_pending: Cell::new(if storm {
            1
        } else {
            specs.iter().filter(|s| s.is_producer()).count()
        }),
        clients_running: Cell::new(if storm { 1 } else { specs.len() }),
        publishers: RefCell::default(),
        receptions: RefCell::default(),
        errors: RefCell::default(),
        errors_total: Cell::new(0),
        plan: Arc::clone(&plan),
    });
    if specs.is_empty() {
        st.setup_done.set();
    }
    for spec in specs {
        glommio::spawn_local(client::run(Rc::clone(&st), spec)).detach();
    }

    // Setup, then the start.
    let poll = Duration::from_millis(CONTROL_POLL_MS);
    while !st.setup_done.is_set() && !control.abort.load(Ordering::Acquire) {
        futures_lite::future::or(st.setup_done.wait(), glommio::timer::sleep(poll)).await;
    }
    send(Event::Ready(st.ready.take()));
    let start_ns = loop {
        let start = control.start_ns.load(Ordering::Acquire);
        if start != 0 {
            break start;
        }
        if control.abort.load(Ordering::Acquire) {
            st.abort.set();
            break clock::now_ns();
        }
        glommio::timer::sleep(poll).await;
    };
    st.start_ns.set(start_ns);
    // Setup's connect latencies stay in the totals, not in the first interval.
    st.hists.borrow_mut().interval = Default::default();
    if !st.abort.is_set() {
        st.go.set();
        if storm {
            glommio::spawn_local(client::storm(Rc::clone(&st), storm_ids)).detach();
        }
    } else if storm {
        st.storm_done();
    }

    let mut index = 0;
    let mut done_sent = false;
    loop {
        if control.drain.load(Ordering::Acquire) {
            st.drain.set();
        }
        if control.abort.load(Ordering::Acquire) {
            st.abort.set();
        }
        if !done_sent && st.producers_pending.get() == 0 {
            send(Event::PublishersDone);
            done_sent = true;
        }
        if st.clients_running.get() == 0 {
            break;
        }
        let next_interval_ns = start_ns + (u64::from(index) + 1) * INTERVAL_MS * 1_000_000;
        if clock::now_ns() >= next_interval_ns {
            send(Event::Interval(Box::new(st.take_interval(index))));
            index += 1;
            continue;
        }
        glommio::timer::sleep(poll.min(clock::until(next_interval_ns))).await;
    }
    send(Event::Interval(Box::new(st.take_interval(index))));
    if !done_sent {
        send(Event::PublishersDone);
    }
    send(Event::Final(Box::new(st.final_report())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> Plan {
        let args = crate::cli::Args::try_parse_from(
            std::iter::once("loadgen").chain(args.iter().copied()),
        )
        .unwrap();
        Plan::from_args(&args).unwrap()
    }

    #[test]
    fn every_client_is_placed_once() {
        let p = plan(&["pairs", "--pairs", "7", "--procs", "2", "--threads", "3"]);
        let mut seen = Vec::new();
        for proc_index in 0..2 {
            for shard in 0..3 {
                for c in clients_of(&p, proc_index, shard, 3) {
                    seen.push(c.role);
                }
            }
        }
        assert_eq!(seen.len(), 14);
        for i in 0..7 {
            assert_eq!(seen.iter().filter(|&&r| r == Role::Publisher(i)).count(), 1);
            assert_eq!(
                seen.iter().filter(|&&r| r == Role::Subscriber(i)).count(),
                1
            );
        }
        // A pair shares its process and shard (one clock, one core).
        for proc_index in 0..2 {
            for shard in 0..3 {
                let here = clients_of(&p, proc_index, shard, 3);
                for c in &here {
                    if let Role::Publisher(i) = c.role {
                        assert!(here.iter().any(|d| d.role == Role::Subscriber(i)));
                    }
                }
            }
        }
        assert_eq!(sockets_of_process(&p, 0), 8);
        assert_eq!(sockets_of_process(&p, 1), 6);
    }
}
