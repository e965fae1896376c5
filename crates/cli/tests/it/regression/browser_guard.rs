//! The browser tests' process-group guard.

use super::*;

/// The browser tests' process-group guard (`browser::GroupChild`) killed every process of the user.
///
/// Regression: the guard once ran `kill -KILL -<pgid>`, which procps' kill turns into
/// kill(-1, SIGKILL) for a pgid starting with 1, killing every process of the user.
/// Running, as opposed to gone or a zombie.
#[cfg(unix)]
#[test]
fn dropping_the_guard_kills_its_own_process_group_and_nothing_else() {
    use std::io::BufRead;
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
            .unwrap_or(false)
    }
    let bystander = GroupChild::spawn(Command::new("sleep").arg("30")).unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 30 & echo $!; wait"])
        .stdout(Stdio::piped());
    let mut guarded = GroupChild::spawn(&mut cmd).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(guarded.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    assert!(alive(grandchild));
    drop(guarded);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(grandchild) {
        assert!(Instant::now() < deadline, "the guarded group survived");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(bystander.0.id()), "the bystander was killed");
    drop(bystander);
}
