//! Reading Wine's output of a load, on captured samples.

use super::{has_final_balance, parse};

/// Wine's own drivers load in other winedevice.exe processes at the same time; their
/// totals are not the driver's.
#[test]
fn only_the_services_own_totals_count() {
    let raw = "\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver LookasideList: pool balance: 7 allocated, 7 freed, 0 outstanding\n\
0120:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver mountmgr: pool balance: 3 allocated, 0 freed, 3 outstanding\n";
    let load = parse(raw);
    assert_eq!(
        load.final_balance(),
        Some("pool balance: 7 allocated, 7 freed, 0 outstanding")
    );
    assert!(has_final_balance(raw));
    assert!(!has_final_balance(
        &raw.replace("driver LookasideList", "driver nsiproxy")
    ));
}

#[test]
fn parses_wines_debug_output_back_into_the_drivers_lines() {
    let raw = "\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: \n\
LookasideList: Entering DriverEntry\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver LookasideList: pool balance: 1 allocated, 0 freed, 1 outstanding\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: LookasideList: Doubly linked list is empty\n\
\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: LookasideList: Leaving DriverEntry\n\
0118:err:ntoskrnl:ZwLoadDriver failed to create driver L\"\\\\Registry\\\\Machine\\\\System\\\\CurrentControlSet\\\\Services\\\\LookasideList\": c0000182\n\
0108:err:sc:wmain failed to start service 87\n\
0114:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver LookasideList: pool balance: 1 allocated, 1 freed, 0 outstanding\n";
    let load = parse(raw);
    assert_eq!(
        load.transcript,
        [
            "",
            "LookasideList: Entering DriverEntry",
            "LookasideList: Doubly linked list is empty",
            "",
            "LookasideList: Leaving DriverEntry"
        ]
    );
    assert_eq!(load.fixture.len(), 2);
    assert_eq!(load.status, Some(0xC000_0182));
    assert!(load.problems.is_empty());
    assert!(has_final_balance(raw));
    let crash =
        parse("wine: Call from 0001 to unimplemented function ntoskrnl.exe.Foo, aborting\n");
    assert_eq!(crash.problems.len(), 1);
    assert_eq!(crash.status, None);
}

/// Wine's output of a load: the driver's lines, the fixture's, the status, and more.
fn captured(driver: &[&str], balance: &str, status: &str, extra: &str) -> String {
    use std::fmt::Write as _;
    let mut raw = String::new();
    for line in driver {
        let _ = writeln!(
            raw,
            "0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: {line}"
        );
    }
    let _ = write!(
        raw,
        "0118:err:ntoskrnl:ZwLoadDriver failed to create driver L\"x\": {status}\n{extra}"
    );
    let _ = writeln!(
        raw,
        "0114:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver LookasideList: every lookaside list: 10 blocks handed out, 10 taken back, 0 outstanding"
    );
    let _ = writeln!(
        raw,
        "0114:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: driver LookasideList: pool balance: {balance}"
    );
    raw
}

#[test]
fn the_verdict_fails_for_each_reason_with_one_line() {
    let story = [
        "LookasideList: Entering DriverEntry",
        "LookasideList: Leaving DriverEntry",
    ];
    let clean = "7 allocated, 7 freed, 0 outstanding";
    assert!(
        parse(&captured(&story, clean, "c0000182", ""))
            .verdict()
            .is_ok()
    );
    let verdict = |raw: String| parse(&raw).verdict().unwrap_err().to_string();
    let status = verdict(captured(&story, clean, "c000009a", ""));
    assert!(
        status.contains("DriverEntry returned 0xC000009A"),
        "{status}"
    );
    let leak = verdict(captured(
        &story,
        "7 allocated, 6 freed, 1 outstanding",
        "c0000182",
        "",
    ));
    assert!(leak.starts_with("pool blocks leaked: "), "{leak}");
    let kept = verdict(captured(&story, clean, "c0000182", "").replace(
        "10 taken back, 0 outstanding",
        "9 taken back, 1 outstanding",
    ));
    assert!(
        kept.starts_with("blocks the lookaside lists handed out never came back"),
        "{kept}"
    );
    let crash = verdict(captured(
        &story,
        clean,
        "c0000182",
        "wine: Call from 0001 to unimplemented function ntoskrnl.exe.Foo, aborting\n",
    ));
    assert!(crash.starts_with("Wine reported trouble"), "{crash}");
    let missed = [
        "LookasideList: Entering DriverEntry",
        "LookasideList:   Fault injection: block allocation #11 never happened (the run made 10)",
        "LookasideList: Leaving DriverEntry",
    ];
    let missed = verdict(captured(&missed, clean, "c0000182", ""));
    assert!(missed.contains("never happened"), "{missed}");
    for error in [status, leak, kept, crash, missed] {
        assert!(!error.contains('\n'), "one line: {error}");
    }
}
