//! GREENRT_PROCS: valid values are used, invalid ones give a clear error.
//! (Its own test binary: it changes the process environment.)

#[test]
fn greenrt_procs_is_validated_and_used() {
    // Only this test runs in this binary, so changing the environment is safe.
    std::env::set_var("GREENRT_PROCS", "3");
    assert_eq!(greenrt::config::procs_from_env().unwrap(), Some(3));
    let rt = greenrt::Runtime::builder().build().unwrap();
    assert_eq!(rt.procs(), 3);

    for bad in ["0", "abc", "-1", "1025", "2.5"] {
        std::env::set_var("GREENRT_PROCS", bad);
        let e = greenrt::Runtime::builder().build().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("GREENRT_PROCS") && msg.contains("1 to 1024") && msg.contains(bad),
            "unclear error for {bad:?}: {msg}"
        );
    }
    std::env::set_var("GREENRT_PROCS", "");
    assert_eq!(greenrt::config::procs_from_env().unwrap(), None);
    std::env::remove_var("GREENRT_PROCS");

    for bad in ["x", "-5", "3600001"] {
        std::env::set_var("GREENRT_SCHEDTRACE", bad);
        let msg = greenrt::Runtime::builder().build().unwrap_err().to_string();
        assert!(
            msg.contains("GREENRT_SCHEDTRACE") && msg.contains("0 to 3600000"),
            "unclear error for {bad:?}: {msg}"
        );
    }
    std::env::set_var("GREENRT_SCHEDTRACE", "0");
    assert_eq!(greenrt::config::schedtrace_from_env().unwrap(), None);
    std::env::set_var("GREENRT_SCHEDTRACE", "250");
    assert_eq!(
        greenrt::config::schedtrace_from_env().unwrap(),
        Some(std::time::Duration::from_millis(250))
    );
    std::env::remove_var("GREENRT_SCHEDTRACE");

    use greenrt::config::{deadlock_from_env, DeadlockAction};
    assert_eq!(deadlock_from_env().unwrap(), DeadlockAction::Report);
    for (v, want) in [
        ("report", DeadlockAction::Report),
        ("abort", DeadlockAction::Abort),
        ("off", DeadlockAction::Off),
        ("", DeadlockAction::Report),
    ] {
        std::env::set_var("GREENRT_DEADLOCK", v);
        assert_eq!(deadlock_from_env().unwrap(), want, "{v:?}");
    }
    std::env::set_var("GREENRT_DEADLOCK", "fatal");
    let msg = greenrt::Runtime::builder().build().unwrap_err().to_string();
    assert!(
        msg.contains("GREENRT_DEADLOCK") && msg.contains("report, abort or off"),
        "unclear error: {msg}"
    );
    std::env::remove_var("GREENRT_DEADLOCK");

    std::env::set_var("GREENRT_DUMP_ON_SIGQUIT", "2");
    let msg = greenrt::Runtime::builder().build().unwrap_err().to_string();
    assert!(
        msg.contains("GREENRT_DUMP_ON_SIGQUIT"),
        "unclear error: {msg}"
    );
    std::env::remove_var("GREENRT_DUMP_ON_SIGQUIT");
}
