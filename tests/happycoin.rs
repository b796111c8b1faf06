//! Tests of the Happycoin example (examples/happycoin/).
//!
//! The mining modules are compiled into this test with `#[path]`, so the
//! happy test, the generator and every mode are checked in-process; the
//! command line (flags, exit codes, output format) is checked by running the
//! built example binary.

#[allow(dead_code)]
#[path = "../examples/happycoin/cli.rs"]
mod cli;
#[path = "../examples/common/flags.rs"]
mod flags;
#[allow(dead_code)]
#[path = "../examples/happycoin/mine.rs"]
mod mine;
#[allow(dead_code)]
#[path = "../examples/happycoin/modes.rs"]
mod modes;
#[allow(dead_code)]
#[path = "../examples/happycoin/pool.rs"]
mod pool;
#[allow(dead_code)]
#[path = "../examples/happycoin/serve_config.rs"]
mod serve_config;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mine::{
    digit_square_sum, is_happy, is_happycoin, split, splitmix64, Coin, Control, MineConfig, Order,
    Rng, Source, COIN_DIVISOR, DEFAULT_CHECKPOINT_EVERY,
};
use modes::{Mode, Outcome, Plan};
use pool::PoolConfig;
use serve_config::{ServeConfig, Server};

// ------------------------------------------------------------ the happy test

/// OEIS A007770, the happy numbers, up to 100.
const HAPPY_UP_TO_100: [u64; 20] = [
    1, 7, 10, 13, 19, 23, 28, 31, 32, 44, 49, 68, 70, 79, 82, 86, 91, 94, 97, 100,
];

#[test]
fn happy_numbers_up_to_100() {
    for n in 1..=100 {
        assert_eq!(
            is_happy(n),
            HAPPY_UP_TO_100.contains(&n),
            "is_happy({n}) is wrong"
        );
    }
}

#[test]
fn zero_is_not_happy_and_does_not_hang() {
    assert!(!is_happy(0));
    assert!(!is_happycoin(0, Order::HappyFirst));
    assert!(!is_happycoin(0, Order::RejectFirst));
}

#[test]
fn digit_square_sums() {
    assert_eq!(digit_square_sum(0), 0);
    assert_eq!(digit_square_sum(7), 49);
    assert_eq!(digit_square_sum(145), 1 + 16 + 25);
    // 1+64+16+16+36+49+16+16+0+49+9+49+0+81+25+25+1+36+1+25
    assert_eq!(digit_square_sum(u64::MAX), 515);
}

#[test]
fn large_values_checked_by_hand() {
    // u64::MAX = 18446744073709551615 -> 515 -> 25+1+25 = 51 -> 26 -> 40
    //   -> 16 -> 37 -> 58 -> 89 -> 145 -> 42 -> 20 -> 4: unhappy.
    assert!(!is_happy(u64::MAX));
    // 7 000 000 000 000 000 000 -> 49 -> 16+81 = 97 -> 81+49 = 130 -> 10
    //   -> 1: happy, and a multiple of 10 000, so a coin.
    assert!(is_happy(7_000_000_000_000_000_000));
    assert!(is_happycoin(7_000_000_000_000_000_000, Order::HappyFirst));
    // 10^19 -> 1: happy, and a coin.
    assert!(is_happycoin(10_000_000_000_000_000_000, Order::HappyFirst));
    // 12345678901234567890 -> 2 x (1+4+9+...+81) = 570 -> 25+49 = 74 -> 65
    //   -> 61 -> 37 -> 58 -> 89 -> 145 -> 42 -> 20 -> 4: unhappy.
    assert!(!is_happy(12_345_678_901_234_567_890));
    // 18446744073709550000 is a multiple of 10 000 but -> 452 -> 45 -> 41
    //   -> 17 -> 50 -> 25 -> 29 -> 85 -> 89 -> ... -> 4: not a coin.
    assert_eq!(18_446_744_073_709_550_000 % COIN_DIVISOR, 0);
    assert!(!is_happycoin(18_446_744_073_709_550_000, Order::HappyFirst));
    // 9999999999999999999 -> 19 x 81 = 1539 -> 1+25+9+81 = 116 -> 38 -> 73
    //   -> 58 -> 89 -> ... -> 4: unhappy.
    assert!(!is_happy(9_999_999_999_999_999_999));
    // 1 000 000 000 000 000 003 -> 1+9 = 10 -> 1: happy, but not a multiple
    // of 10 000. (...007 is not happy: 1+49 = 50 -> 25 -> 29 -> 85 -> 89.)
    assert!(is_happy(1_000_000_000_000_000_003));
    assert!(!is_happycoin(1_000_000_000_000_000_003, Order::HappyFirst));
    assert!(!is_happy(1_000_000_000_000_000_007));
}

#[test]
fn both_test_orders_agree() {
    // Random draws (almost never coins) and multiples of 10 000 near the
    // top of the range (coins about 13% of the time).
    let draws = (0..100_000).map(|i| splitmix64(42, i));
    let multiples =
        (0..100_000u64).map(|m| u64::MAX / COIN_DIVISOR * COIN_DIVISOR - m * COIN_DIVISOR);
    let mut coins = 0;
    for v in draws.chain(multiples) {
        let happy_first = is_happycoin(v, Order::HappyFirst);
        assert_eq!(happy_first, is_happycoin(v, Order::RejectFirst), "{v}");
        coins += u32::from(happy_first);
    }
    assert!(
        coins > 1000,
        "the multiples should hold many coins, got {coins}"
    );
}

// --------------------------------------------------------------- generator

#[test]
fn splitmix64_matches_the_reference_stream() {
    // The first outputs of Vigna's splitmix64.c with state 1234567.
    let expected = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ];
    let got: Vec<u64> = (0..5).map(|i| splitmix64(1234567, i)).collect();
    assert_eq!(got, expected);
    assert_eq!(splitmix64(0, 0), 0xE220_A839_7B1D_CDAF);
}

#[test]
fn split_covers_the_range_in_order() {
    assert_eq!(split(10, 3), vec![0..4, 4..7, 7..10]);
    assert_eq!(split(2, 4), vec![0..1, 1..2, 2..2, 2..2]);
    assert_eq!(split(0, 2), vec![0..0, 0..0]);
    assert_eq!(split(5, 0), vec![0..5]);
    let big = split(u64::MAX, 7);
    assert_eq!(big.first().unwrap().start, 0);
    assert_eq!(big.last().unwrap().end, u64::MAX);
    assert!(big.windows(2).all(|w| w[0].end == w[1].start));
}

// ----------------------------------------------------------- mining loop

fn fast(seed: u64) -> Source {
    Source::new(Rng::Fast { seed }).unwrap()
}

/// Every coin of `0..draws` for `seed`, by brute force.
fn brute_force(seed: u64, draws: u64) -> Vec<Coin> {
    (0..draws)
        .map(|draw| Coin {
            draw,
            value: splitmix64(seed, draw),
        })
        .filter(|c| is_happy(c.value) && c.value % COIN_DIVISOR == 0)
        .collect()
}

#[test]
fn mining_finds_exactly_the_coins_of_its_range() {
    let all = brute_force(3, 400_000);
    assert!(all.len() > 2, "seed 3 should hold a few coins");
    let ctl = Control::new();
    let whole = fast(3).mine(0..400_000, &MineConfig::default(), &ctl, || {});
    assert_eq!(whole.coins, all);
    assert_eq!(whole.draws, 400_000);
    assert_eq!(ctl.draws_done(), 400_000);
    // A sub-range finds the same draws' coins: draws depend on the index only.
    let part = fast(3).mine(123_457..300_001, &MineConfig::default(), &ctl, || {});
    let expected: Vec<Coin> = all
        .iter()
        .copied()
        .filter(|c| (123_457..300_001).contains(&c.draw))
        .collect();
    assert_eq!(part.coins, expected);
}

#[test]
fn checkpoint_hook_runs_every_interval() {
    let cfg = MineConfig {
        checkpoint_every: 100,
        ..MineConfig::default()
    };
    let mut calls = 0;
    let mined = fast(1).mine(0..1050, &cfg, &Control::new(), || calls += 1);
    assert_eq!(mined.draws, 1050);
    assert_eq!(calls, 11, "ten full intervals and the last 50 draws");
}

#[test]
fn stop_request_is_honoured_at_the_next_checkpoint() {
    let cfg = MineConfig::default();
    let ctl = Control::new();
    let mut calls = 0;
    let mined = fast(1).mine(0..1_000_000, &cfg, &ctl, || {
        calls += 1;
        if calls == 3 {
            ctl.request_stop();
        }
    });
    assert_eq!(mined.draws, 3 * DEFAULT_CHECKPOINT_EVERY);
    assert_eq!(ctl.draws_done(), 3 * DEFAULT_CHECKPOINT_EVERY);
}

#[test]
fn os_draws_give_valid_coins() {
    let ctl = Control::new();
    let mut source = Source::new(Rng::Os).unwrap();
    let mined = source.mine(0..300_000, &MineConfig::default(), &ctl, || {});
    assert_eq!(mined.draws, 300_000);
    for c in &mined.coins {
        assert!(is_happy(c.value) && c.value % COIN_DIVISOR == 0, "{c:?}");
    }
    assert!(mined.coins.windows(2).all(|w| w[0].draw < w[1].draw));
}

// ------------------------------------------------------------------ modes

fn plan(mode: Mode, workers: usize, procs: usize, draws: u64, seed: u64) -> Plan {
    Plan {
        mode,
        workers,
        procs,
        draws,
        rng: Rng::Fast { seed },
        mine: MineConfig::default(),
        pool: PoolConfig::default(),
    }
}

fn run(plan: &Plan) -> Outcome {
    let ctl = Arc::new(Control::new());
    let outcome = modes::run(plan, ctl.clone()).unwrap();
    assert_eq!(ctl.draws_done(), outcome.draws, "{plan:?}: progress count");
    outcome
}

#[test]
fn every_mode_and_worker_count_finds_the_same_coins() {
    const DRAWS: u64 = 1_000_000;
    const SEED: u64 = 2024;
    let reference = run(&plan(Mode::Single, 1, 1, DRAWS, SEED));
    assert_eq!(reference.draws, DRAWS);
    assert_eq!(reference.coins, brute_force(SEED, DRAWS));
    assert!(reference.coins.len() >= 5, "too few coins to compare");

    let mut plans = Vec::new();
    for workers in [1, 2, 3, 7] {
        plans.push(plan(Mode::Threads, workers, workers, DRAWS, SEED));
        for procs in [1, 2] {
            plans.push(plan(Mode::Green, workers, procs, DRAWS, SEED));
            plans.push(plan(Mode::Pool, workers, procs, DRAWS, SEED));
        }
    }
    // Odd batches, a rendezvous queue, a one-slot queue: backpressure everywhere.
    for (batch, max_queue) in [(9_999, Some(0)), (65_537, Some(1)), (DRAWS, None)] {
        let mut p = plan(Mode::Pool, 3, 2, DRAWS, SEED);
        p.pool = PoolConfig { batch, max_queue };
        plans.push(p);
    }
    let mut shortcut = plan(Mode::Green, 2, 2, DRAWS, SEED);
    shortcut.mine.order = Order::RejectFirst;
    plans.push(shortcut);

    for p in &plans {
        let got = run(p);
        assert_eq!(got.draws, DRAWS, "{p:?}");
        assert_eq!(got.coins, reference.coins, "{p:?}");
    }
}

#[test]
fn a_stop_requested_before_the_run_mines_nothing() {
    for mode in Mode::ALL {
        let p = plan(
            mode,
            if mode == Mode::Single { 1 } else { 2 },
            2,
            1_000_000,
            1,
        );
        let ctl = Arc::new(Control::new());
        ctl.request_stop();
        let got = modes::run(&p, ctl).unwrap();
        assert_eq!(got.draws, 0, "{mode}");
        assert!(got.coins.is_empty(), "{mode}");
    }
}

#[test]
fn green_miners_share_one_processor() {
    // Two miners on one processor. Without checkpoints the first would run
    // to completion before the second started; with them, sysmon's
    // preemption request (after 10 ms) makes the first yield, so each one
    // sees the other's progress before it finishes. Each miner does ~2 M
    // draws, 100+ ms even in release builds.
    const DRAWS: u64 = 2_000_000;
    let rt = greenrt::Runtime::builder().procs(1).build().unwrap();
    let (seen_by_a, seen_by_b) = rt.block_on(|| {
        let (a, b) = (Arc::new(Control::new()), Arc::new(Control::new()));
        let miner = |me: Arc<Control>, other: Arc<Control>| {
            greenrt::spawn(move || {
                fast(5).mine(
                    0..DRAWS,
                    &MineConfig::default(),
                    &me,
                    greenrt::coop::checkpoint,
                );
                other.draws_done()
            })
        };
        let ha = miner(a.clone(), b.clone());
        let hb = miner(b, a);
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert!(
        seen_by_a > 0 && seen_by_b > 0,
        "a miner finished before the other started: {seen_by_a} / {seen_by_b} draws seen"
    );
}

// ------------------------------------------------------------- coin rate

/// The exact probability that a uniform `u64` is a Happycoin: the number of
/// happy multiples of 10 000 below 2^64, divided by 2^64.
///
/// Trailing zeros do not change a digit-square sum, so 10 000·m is happy
/// exactly when m is; count m in 1..=M (M = (2^64-1) / 10 000) by the digit
/// square sum of m, with the classic digit DP over the digits of M.
fn happycoin_probability() -> f64 {
    let m = u64::MAX / COIN_DIVISOR;
    let digits: Vec<usize> = m.to_string().bytes().map(|b| (b - b'0') as usize).collect();
    let max_sum = 81 * digits.len();
    // below[s]: prefixes already smaller than M's prefix, with square sum s.
    let mut below = vec![0u128; max_sum + 1];
    let mut tight_sum = 0; // square sum of M's own prefix
    for &d in &digits {
        let mut next = vec![0u128; max_sum + 1];
        for (s, &count) in below.iter().enumerate().filter(|(_, c)| **c > 0) {
            for x in 0..10 {
                next[s + x * x] += count;
            }
        }
        for x in 0..d {
            next[tight_sum + x * x] += 1;
        }
        below = next;
        tight_sum += d * d;
    }
    below[tight_sum] += 1; // M itself
    let total: u128 = below.iter().sum();
    assert_eq!(total, u128::from(m) + 1, "the DP counts 0..=M once each");
    let happy: u128 = (1..=max_sum)
        .filter(|&s| is_happy(s as u64))
        .map(|s| below[s])
        .sum();
    happy as f64 / 2f64.powi(64)
}

#[test]
fn expected_rate_matches_the_book() {
    // The book reports 126 to 133 coins per 10 000 000 draws.
    let per_10m = happycoin_probability() * 1e7;
    assert!((126.0..=137.0).contains(&per_10m), "{per_10m}");
    assert!((per_10m - 131.61).abs() < 0.01, "{per_10m}");
}

#[test]
fn coin_rate_over_2m_fast_draws_is_plausible() {
    // Coins in n draws are Binomial(n, p) ~ Poisson(n·p): p = 1.316e-5, so
    // 2 000 000 draws expect 26.3 coins, σ = √26.3 ≈ 5.1. Accept the mean
    // ± 4σ (6 to 46 coins): a correct generator fails this about once in
    // 16 000 seeds, while a biased or broken one (no coins, every
    // multiple of 10 000, a stuck stream) falls far outside.
    const DRAWS: u64 = 2_000_000;
    let mean = happycoin_probability() * DRAWS as f64;
    let sigma = mean.sqrt();
    let band = (mean - 4.0 * sigma)..=(mean + 4.0 * sigma);
    for seed in [0, 1, 0xDEAD_BEEF] {
        let found = run(&plan(Mode::Threads, 2, 2, DRAWS, seed)).coins.len() as f64;
        assert!(
            band.contains(&found),
            "seed {seed}: {found} coins, expected {band:?}"
        );
    }
}

// ---------------------------------------------------------- command line

fn parse(args: &[&str]) -> Result<cli::Request, clap::Error> {
    cli::parse(args.iter().map(OsString::from))
}

fn parse_plan(args: &[&str]) -> (Plan, bool) {
    match parse(args) {
        Ok(cli::Request {
            plan,
            quiet,
            serve: None,
        }) => (plan, quiet),
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn flags_resolve_to_a_plan() {
    let (plan, quiet) = parse_plan(&[]);
    assert_eq!(
        plan,
        Plan {
            mode: Mode::Single,
            workers: 1,
            procs: 1,
            draws: 10_000_000,
            rng: Rng::Fast { seed: 0 },
            mine: MineConfig::default(),
            pool: PoolConfig::default(),
        }
    );
    assert!(!quiet);

    // `--flag=value`, underscores, switches; procs defaults to at most workers.
    let (plan, quiet) = parse_plan(&[
        "--mode=green",
        "--workers=3",
        "--draws",
        "1_000",
        "--seed=7",
        "--quiet",
        "--reject-first",
    ]);
    assert_eq!(
        (plan.mode, plan.workers, plan.draws),
        (Mode::Green, 3, 1000)
    );
    assert!((1..=3).contains(&plan.procs), "{}", plan.procs);
    assert_eq!(plan.rng, Rng::Fast { seed: 7 });
    assert_eq!(plan.mine.order, Order::RejectFirst);
    assert!(quiet);

    let (plan, _) = parse_plan(&[
        "--mode",
        "pool",
        "--workers",
        "4",
        "--procs",
        "1",
        "--batch",
        "10",
        "--max-queue",
        "0",
    ]);
    assert_eq!((plan.workers, plan.procs), (4, 1));
    assert_eq!(
        plan.pool,
        PoolConfig {
            batch: 10,
            max_queue: Some(0)
        }
    );
    assert_eq!(plan.pool.queue_bound(4), 0);
    assert_eq!(PoolConfig::default().queue_bound(4), 8);

    let (plan, _) = parse_plan(&["--mode", "threads", "--workers", "5", "--rng", "os"]);
    assert_eq!((plan.workers, plan.procs, plan.rng), (5, 5, Rng::Os));

    assert_eq!(
        parse(&["--draws", "5", "-h"]).map_err(|e| e.kind()),
        Err(clap::error::ErrorKind::DisplayHelp)
    );
    assert!(parse(&["--draws", "_5"]).is_err());
    assert!(parse(&["--draws", "18446744073709551616"]).is_err());
}

/// The example binary, next to this test's own binary
/// (target/<profile>/examples/happycoin).
///
/// `cargo test` builds examples, but `cargo test --test happycoin` does not,
/// and would then run a stale binary: so build it once per test process
/// with the same profile and target directory (a no-op when up to date;
/// cargo does not hold its build lock while tests run).
fn happycoin_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        // target/<profile>/deps/happycoin-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let bin = profile_dir.join("examples").join("happycoin");
        build_example(profile_dir);
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --example happycoin` with this test's profile",
            bin.display()
        );
        bin
    })
}

fn build_example(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--example", "happycoin", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("target dir"));
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => panic!("unexpected test binary location {}", profile_dir.display()),
    }
    let out = cmd.output().expect("run cargo build --example happycoin");
    assert!(
        out.status.success(),
        "cargo build --example happycoin failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn happycoin(args: &[&str]) -> Output {
    Command::new(happycoin_bin())
        .args(args)
        .env_remove("GREENRT_PROCS")
        .output()
        .expect("run the happycoin example")
}

/// Every mistake: status 2, nothing on stdout, and on stderr clap's short
/// error — the flag, what was wrong, what is accepted — and a pointer to
/// `--help`, not the whole help text.
#[test]
fn bad_flags_print_a_short_error_and_exit_2() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--workers", "0"],
            &["invalid value '0' for '--workers <N>': expected a whole number from 1 to 4096"],
        ),
        (
            &["--draws", "abc"],
            &["invalid value 'abc' for '--draws <N>': expected a whole number from 0 to"],
        ),
        (
            &["--mode", "bogus"],
            &[
                "invalid value 'bogus' for '--mode <M>'",
                "[possible values: single, threads, green, pool]",
            ],
        ),
        (&["--mode"], &["a value is required for '--mode <M>'"]),
        (&["--workers"], &["a value is required for '--workers <N>'"]),
        (&["--frobnicate"], &["unexpected argument '--frobnicate'"]),
        (
            &["--rng", "quantum"],
            &[
                "invalid value 'quantum' for '--rng <R>'",
                "[possible values: fast, os]",
            ],
        ),
        (
            &["--procs", "2"],
            &["--procs applies only to --mode green and pool, not single"],
        ),
        (
            &["--mode", "threads", "--batch", "10"],
            &["--batch applies only to --mode pool"],
        ),
        (
            &["--mode", "green", "--max-queue", "1"],
            &["--max-queue applies only to --mode pool, not green"],
        ),
        (
            &["--rng", "os", "--seed", "1"],
            &["--seed applies only to --rng fast"],
        ),
        (
            &["--mode", "single", "--workers", "2"],
            &["--mode single runs one worker"],
        ),
        (
            &["--mode", "green", "--procs", "0"],
            &["invalid value '0' for '--procs <P>': expected a whole number from 1 to 1024"],
        ),
        (
            &["--seed", "-1"],
            &["invalid value '-1' for '--seed <S>': expected a whole number from 0 to 18446744073709551615"],
        ),
        (&["--quiet=yes"], &["unexpected value 'yes' for '--quiet'"]),
        // --serve and its flags.
        (
            &["--serve", "127.0.0.1:0", "--server-mode", "node"],
            &[
                "invalid value 'node' for '--server-mode <M>'",
                "[possible values: green, event-loop, thread]",
            ],
        ),
        (&["--serve"], &["a value is required for '--serve <ADDR>'"]),
        (
            &["--serve", "10.1.2.3:7000"],
            &["refusing to serve on 10.1.2.3:7000: --serve takes a loopback address"],
        ),
        (
            &["--serve", "not an address"],
            &["invalid value 'not an address' for '--serve <ADDR>'"],
        ),
        (
            &["--serve", "127.0.0.1"],
            &["invalid value '127.0.0.1' for '--serve <ADDR>'"],
        ),
        (
            &["--server-mode", "thread"],
            &["--server-mode applies only with --serve ADDR"],
        ),
        (
            &["--time-slice-ms", "1"],
            &["--time-slice-ms applies only with --serve ADDR"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--serve-conns", "0"],
            &["invalid value '0' for '--serve-conns <C>': expected a whole number from 1 to 256"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--serve-secs", "0.01"],
            &["invalid value '0.01' for '--serve-secs <S>': expected a number from 0.1 to 60"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--serve-secs", "NaN"],
            &["invalid value 'NaN' for '--serve-secs <S>'"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--time-slice-ms", "0.05"],
            &["invalid value '0.05' for '--time-slice-ms <T>': expected a number from 0.1 to 1000"],
        ),
        (
            &[
                "--serve",
                "127.0.0.1:0",
                "--server-mode",
                "thread",
                "--time-slice-ms",
                "1",
            ],
            &["--time-slice-ms applies only to --server-mode green, not thread"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--loop-chunk", "1000"],
            &["--loop-chunk applies only to --server-mode event-loop, not green"],
        ),
        (
            &[
                "--serve",
                "127.0.0.1:0",
                "--server-mode",
                "event-loop",
                "--loop-chunk",
                "0",
            ],
            &["invalid value '0' for '--loop-chunk <N>': expected a whole number from 1 to 10000000"],
        ),
        (
            &[
                "--serve",
                "127.0.0.1:0",
                "--server-mode",
                "thread",
                "--mode",
                "green",
            ],
            &["--server-mode thread mines with --mode threads, not green"],
        ),
        (
            &[
                "--serve=127.0.0.1:0",
                "--server-mode=event-loop",
                "--workers=2",
            ],
            &["--server-mode event-loop mines on the loop's one thread, got --workers 2"],
        ),
        (
            &["--serve", "127.0.0.1:0", "--mode", "single"],
            &["--server-mode green mines with --mode green or pool, not single"],
        ),
    ];
    for (args, pieces) in cases {
        let out = happycoin(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for piece in *pieces {
            assert!(
                stderr.contains(piece),
                "{args:?}: stderr lacks {piece:?}:\n{stderr}"
            );
        }
        assert!(
            stderr.contains("try '--help'"),
            "{args:?}: no pointer to --help:\n{stderr}"
        );
        // Short: not the help text (which lists every flag).
        assert!(
            !stderr.contains("--reject-first") && stderr.lines().count() <= 6,
            "{args:?}: more than a short error:\n{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: wrote to stdout");
    }
}

#[test]
fn help_goes_to_stdout() {
    let out = happycoin(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for piece in [
        "Usage: happycoin [OPTIONS]",
        "--mode <M>",
        "pool:",
        "--serve <ADDR>",
        "--loop-chunk <N>",
        "summary mode=M workers=N",
    ] {
        assert!(help.contains(piece), "--help lacks {piece:?}:\n{help}");
    }
    assert!(out.stderr.is_empty());
}

/// Checks the summary line's exact shape and returns its values.
fn parse_summary(line: &str) -> Vec<(String, String)> {
    let mut words = line.split(' ');
    assert_eq!(words.next(), Some("summary"), "{line}");
    let fields: Vec<(String, String)> = words
        .map(|w| {
            let (k, v) = w
                .split_once('=')
                .unwrap_or_else(|| panic!("{w:?} in {line}"));
            (k.to_string(), v.to_string())
        })
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "mode",
            "workers",
            "procs",
            "draws",
            "count",
            "elapsed_s",
            "draws_per_s"
        ],
        "{line}"
    );
    for (k, v) in &fields[1..5] {
        v.parse::<u64>()
            .unwrap_or_else(|_| panic!("{k}={v} is not a whole number"));
    }
    for (k, v) in &fields[5..] {
        v.parse::<f64>()
            .unwrap_or_else(|_| panic!("{k}={v} is not a number"));
    }
    fields
}

#[test]
fn output_lists_the_coins_then_count_then_summary() {
    const SEED: u64 = 11;
    const DRAWS: u64 = 500_000;
    let expected = brute_force(SEED, DRAWS);
    let out = happycoin(&[
        "--mode",
        "green",
        "--workers",
        "3",
        "--procs",
        "2",
        "--draws",
        "500_000",
        "--seed",
        "11",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // stderr is not a terminal here: no progress bar.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let n = expected.len();
    assert_eq!(lines.len(), n + 2, "{stdout}");
    let values: Vec<u64> = lines[..n].iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(values, expected.iter().map(|c| c.value).collect::<Vec<_>>());
    assert_eq!(lines[n], format!("count : {n}"));
    let summary = parse_summary(lines[n + 1]);
    let get = |k: &str| summary.iter().find(|(key, _)| key == k).unwrap().1.clone();
    assert_eq!(get("mode"), "green");
    assert_eq!(get("workers"), "3");
    assert_eq!(get("procs"), "2");
    assert_eq!(get("draws"), DRAWS.to_string());
    assert_eq!(get("count"), n.to_string());
    assert!(get("draws_per_s").parse::<f64>().unwrap() > 0.0);
}

#[test]
fn quiet_prints_count_and_summary_only() {
    for mode in ["single", "threads", "pool"] {
        let out = happycoin(&[
            "--mode", mode, "--draws", "200000", "--quiet", "--seed", "4",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        let n = brute_force(4, 200_000).len();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert_eq!(lines[0], format!("count : {n}"));
        let summary = parse_summary(lines[1]);
        assert_eq!(summary[0].1, mode);
        // Defaults: single has one worker; the others one per CPU, and
        // procs = workers for threads.
        if mode == "single" {
            assert_eq!((summary[1].1.as_str(), summary[2].1.as_str()), ("1", "1"));
        }
        if mode == "threads" {
            assert_eq!(summary[1].1, summary[2].1);
        }
    }
}

// ------------------------------------------------- mining beside serving

fn parse_serve(args: &[&str]) -> (Plan, ServeConfig) {
    match parse(args) {
        Ok(cli::Request {
            plan,
            serve: Some(serve),
            ..
        }) => (plan, serve),
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn serve_flags_resolve_to_a_serve_config() {
    // Defaults: the green server, with green miners on a 1 ms time slice.
    let (plan, serve) = parse_serve(&["--serve", "127.0.0.1:0"]);
    assert_eq!(plan.mode, Mode::Green);
    assert_eq!(
        serve,
        ServeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            server: Server::Green {
                time_slice: Duration::from_millis(1)
            },
            conns: 4,
            secs: Duration::from_secs(2),
        }
    );
    assert_eq!(plan.mine.checkpoint_every, DEFAULT_CHECKPOINT_EVERY);

    // Each design picks its own mining mode and knob.
    let (plan, serve) = parse_serve(&[
        "--serve=[::1]:7000",
        "--server-mode=event-loop",
        "--loop-chunk",
        "1_024",
        "--serve-conns",
        "16",
        "--serve-secs",
        "0.5",
    ]);
    assert_eq!((plan.mode, plan.workers), (Mode::Single, 1));
    assert_eq!(serve.server, Server::EventLoop { chunk: 1024 });
    assert_eq!(serve.addr, "[::1]:7000".parse().unwrap());
    assert_eq!((serve.conns, serve.secs), (16, Duration::from_millis(500)));

    let (plan, serve) = parse_serve(&["--serve", "127.0.0.1:0", "--server-mode", "thread"]);
    assert_eq!((plan.mode, serve.server), (Mode::Threads, Server::Thread));

    let (plan, serve) = parse_serve(&[
        "--serve",
        "127.0.0.1:0",
        "--mode",
        "pool",
        "--workers",
        "3",
        "--procs",
        "2",
        "--time-slice-ms",
        "0.25",
    ]);
    assert_eq!((plan.mode, plan.workers, plan.procs), (Mode::Pool, 3, 2));
    assert_eq!(
        serve.server,
        Server::Green {
            time_slice: Duration::from_micros(250)
        }
    );
}

/// The keys of the `serve` line, in order.
const SERVE_KEYS: [&str; 23] = [
    "server_mode",
    "addr",
    "conns",
    "time_slice_ms",
    "checkpoint_every",
    "loop_chunk",
    "baseline_secs",
    "baseline_round_trips",
    "baseline_rtt_per_s",
    "baseline_p50_us",
    "baseline_p99_us",
    "baseline_max_us",
    "baseline_errors",
    "baseline_mismatches",
    "mining_secs",
    "mining_round_trips",
    "mining_rtt_per_s",
    "mining_p50_us",
    "mining_p99_us",
    "mining_max_us",
    "mining_errors",
    "mining_mismatches",
    "mining_draws_per_s",
];

/// Runs `--serve` with `server_mode` (and `extra` flags) over a small job
/// and checks what every design must do: the coins of `--mode single`, the
/// count and summary lines unchanged, and byte-exact echo in both phases.
fn serve_and_check(server_mode: &str, extra: &[&str], knobs: [&str; 3]) {
    const SEED: u64 = 21;
    const DRAWS: u64 = 1_000_000;
    const CONNS: u64 = 3;
    let mut args = vec![
        "--serve",
        "127.0.0.1:0",
        "--server-mode",
        server_mode,
        "--serve-conns",
        "3",
        "--serve-secs",
        "0.3",
        "--draws",
        "1_000_000",
        "--seed",
        "21",
    ];
    args.extend_from_slice(extra);
    let out = happycoin(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{server_mode}: {stderr}");
    assert!(out.stderr.is_empty(), "{server_mode}: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();

    // The miners found what `--mode single` finds.
    let single = run(&plan(Mode::Single, 1, 1, DRAWS, SEED));
    let n = single.coins.len();
    assert!(n >= 5, "too few coins to compare");
    assert_eq!(lines.len(), n + 3, "{stdout}");
    let values: Vec<u64> = lines[..n].iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(
        values,
        single.coins.iter().map(|c| c.value).collect::<Vec<_>>()
    );
    assert_eq!(lines[n], format!("count : {n}"));
    let summary = parse_summary(lines[n + 1]);
    assert_eq!(summary[3].1, DRAWS.to_string(), "{}", lines[n + 1]);

    // The serve line: fixed keys, this design's knobs, clean echo.
    let line = lines[n + 2];
    let fields: Vec<(&str, &str)> = line
        .strip_prefix("serve ")
        .unwrap_or_else(|| panic!("{line}"))
        .split(' ')
        .map(|w| {
            w.split_once('=')
                .unwrap_or_else(|| panic!("{w:?} in {line}"))
        })
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, SERVE_KEYS, "{line}");
    let get = |k: &str| fields.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(get("server_mode"), server_mode);
    let addr: std::net::SocketAddr = get("addr").parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{line}");
    assert_eq!(get("conns"), CONNS.to_string());
    assert_eq!(
        [
            get("time_slice_ms"),
            get("checkpoint_every"),
            get("loop_chunk")
        ],
        knobs,
        "{line}"
    );
    for phase in ["baseline", "mining"] {
        let num = |k: &str| -> f64 {
            let k = format!("{phase}_{k}");
            get(&k).parse().unwrap_or_else(|_| panic!("{k} in {line}"))
        };
        assert_eq!(num("errors"), 0.0, "{line}");
        assert_eq!(num("mismatches"), 0.0, "{line}");
        // Every connection makes at least one round trip in each window.
        assert!(num("round_trips") >= CONNS as f64, "{line}");
        assert!(num("rtt_per_s") > 0.0 && num("secs") > 0.0, "{line}");
        assert!(
            num("p50_us") <= num("p99_us") && num("p99_us") <= num("max_us"),
            "{line}"
        );
    }
    let rate: f64 = get("mining_draws_per_s").parse().unwrap();
    assert!(rate > 0.0, "{line}");
}

#[test]
fn serve_green_echoes_while_mining() {
    serve_and_check(
        "green",
        &["--workers", "2", "--procs", "2"],
        ["1", "1024", "-"],
    );
}

#[test]
fn serve_green_pool_echoes_while_mining() {
    serve_and_check(
        "green",
        &[
            "--mode",
            "pool",
            "--workers",
            "2",
            "--procs",
            "1",
            "--time-slice-ms",
            "2.5",
        ],
        ["2.5", "1024", "-"],
    );
}

#[test]
fn serve_event_loop_echoes_while_mining() {
    serve_and_check(
        "event-loop",
        &["--loop-chunk", "50_000"],
        ["-", "-", "50000"],
    );
}

#[test]
fn serve_thread_echoes_while_mining() {
    serve_and_check("thread", &["--workers", "2"], ["-", "-", "-"]);
}
