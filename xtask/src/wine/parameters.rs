//! The driver's registry parameters in the prefix: written as a `.reg` file, imported, read
//! back; and how long a run with them may take.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::prefix::{REG_FILE_HEADER, z_path};
use super::{Prefix, REG};
use crate::options::Value;
use crate::process;

const PARAMETERS_KEY: &str =
    r"HKEY_LOCAL_MACHINE\System\CurrentControlSet\Services\LookasideList\Parameters";
/// How long a run with these parameters may take: a minute for the seed's story and Wine, plus
/// the stress run at 2 µs per pair, thread and measurement (a pair costs tens to a few hundred
/// nanoseconds under Wine, more when the threads outnumber the cores). The tool's waits follow
/// from it; services.exe's own limit is lifted above any of them ([`super::prefix`]).
pub fn run_limit(parameters: &[(String, Value)]) -> Duration {
    let dword = |wanted: &str| {
        parameters.iter().find_map(|(name, value)| match value {
            Value::Dword(n) if name == wanted => Some(u64::from(*n)),
            _ => None,
        })
    };
    let pairs = dword("StressIterations").unwrap_or(0);
    let threads = dword("StressThreads").unwrap_or(1).max(1);
    // Three measurements (floor, list, pool), five runs each (src/stress.rs).
    Duration::from_mins(1) + Duration::from_micros(pairs * threads * 15 * 2)
}

impl Prefix {
    /// Replaces the service's `Parameters` key with exactly these values (none: no key), then
    /// reads the key back: a value that did not arrive as given stops the run.
    ///
    /// The import is the first Wine command in the load's wineserver ([`Prefix::start_server`]):
    /// it boots Wine there, and `log` receives its output and that of the processes it boots.
    pub fn set_parameters(&self, parameters: &[(String, Value)], log: &Path) -> Result<()> {
        let file = self.dir().join("lookasidelist-parameters.reg");
        fs::write(&file, reg_file(parameters)?)?;
        let listed: Vec<String> = parameters
            .iter()
            .map(|(name, value)| match value {
                Value::Dword(n) => format!("{name}={n}"),
                Value::String(text) => format!("{name}={text:?}"),
            })
            .collect();
        let what = if listed.is_empty() {
            "no driver parameters (the seed's behaviour)".to_owned()
        } else {
            format!("driver parameters: {}", listed.join(" "))
        };
        process::progress(&what);
        let windows_path = z_path(&file);
        let output = self
            .load_command(log)?
            .args([REG, "import", &windows_path])
            .stdout(Stdio::piped())
            .output()
            .context("starting `wine reg import`")?;
        if !output.status.success() {
            bail!(
                "`wine reg import` of the driver's parameters failed ({}): {} (Wine's output: {})",
                output.status,
                String::from_utf8_lossy(&output.stdout).trim(),
                log.display()
            );
        }
        if parameters.is_empty() {
            return Ok(());
        }
        // Its stderr goes to the load's log too, as every Wine command's of a load does: the
        // command that boots Wine in the load's server (normally the import, but seen once in
        // 1,587 soak loads: this query) hands its stderr down to services.exe and every
        // winedevice.exe, so any other target would take the driver's output with it
        // (docs/linux.md, "Why loads failed now and then").
        let query = self
            .load_command(log)?
            .args([REG, "query", PARAMETERS_KEY])
            .stdout(Stdio::piped())
            .output()
            .context("starting `wine reg query`")?;
        if !query.status.success() {
            // Seen in soaks while the load's wineserver was one a Wine command had started (with
            // `-p0`, so ending once no user process was left): the import had succeeded, yet the
            // query right after it exited with 1. Should it ever fail again, the run stops and
            // keeps the evidence.
            let kept =
                super::load::keep_log(&String::from_utf8_lossy(&fs::read(log).unwrap_or_default()));
            bail!(
                "`wine reg query` of the driver's parameters, right after a successful import, failed ({}): {}; the wineserver's processes: {}; Wine's output of the load: {}",
                query.status,
                String::from_utf8_lossy(&query.stdout).trim(),
                self.processes().join("; "),
                kept.display()
            );
        }
        check_arrived(parameters, &String::from_utf8_lossy(&query.stdout))
    }
}

/// The `.reg` file that replaces the `Parameters` key with `parameters`: names and strings
/// quoted and escaped as the format wants (`\\` and `\"`); a name or string with a control
/// character (a line break would end the entry) is refused.
pub fn reg_file(parameters: &[(String, Value)]) -> Result<String> {
    let mut reg = format!("{REG_FILE_HEADER}[-{PARAMETERS_KEY}]\r\n");
    if parameters.is_empty() {
        return Ok(reg);
    }
    let _ = write!(reg, "\r\n[{PARAMETERS_KEY}]\r\n");
    for (name, value) in parameters {
        let name = reg_string(name).with_context(|| format!("--param {name:?}: the name"))?;
        let _ = match value {
            Value::Dword(n) => write!(reg, "{name}=dword:{n:08x}\r\n"),
            Value::String(text) => {
                let text = reg_string(text)
                    .with_context(|| format!("--param {name}: the value {text:?}"))?;
                write!(reg, "{name}={text}\r\n")
            }
        };
    }
    Ok(reg)
}

/// `text` as a quoted `.reg` string.
fn reg_string(text: &str) -> Result<String> {
    if text.is_empty() {
        bail!("an empty name or value cannot be written");
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        bail!("it holds the control character {c:?}, which a .reg file cannot carry");
    }
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Checks `wine reg query` output of the `Parameters` key against what was written: each
/// value there, with its type and data.
pub fn check_arrived(parameters: &[(String, Value)], query: &str) -> Result<()> {
    for (name, value) in parameters {
        let found = query.lines().find_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix(name.as_str())?;
            let rest = rest.strip_prefix("    ")?;
            rest.split_once("    ")
        });
        let Some((reg_type, data)) = found else {
            bail!(
                "the driver parameter {name} did not reach the registry (wine reg query shows no such value)"
            );
        };
        let arrived = match value {
            Value::Dword(n) => {
                reg_type == "REG_DWORD"
                    && data
                        .strip_prefix("0x")
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        == Some(*n)
            }
            Value::String(text) => reg_type == "REG_SZ" && data == text,
        };
        if !arrived {
            bail!(
                "the driver parameter {name} reached the registry as {reg_type} {data:?}, not as given ({value:?})"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{check_arrived, reg_file, run_limit};
    use crate::options::Value;

    #[test]
    fn parameters_are_escaped_for_the_reg_format_and_checked_on_arrival() {
        let parameters = vec![
            ("ListType".to_owned(), Value::String(r#"a"b\c"#.to_owned())),
            ("StressThreads".to_owned(), Value::Dword(2)),
        ];
        let reg = reg_file(&parameters).unwrap();
        assert!(reg.contains("\"ListType\"=\"a\\\"b\\\\c\"\r\n"), "{reg}");
        assert!(
            reg.contains("\"StressThreads\"=dword:00000002\r\n"),
            "{reg}"
        );
        let line_break = vec![("ListType".to_owned(), Value::String("a\nb".to_owned()))];
        assert!(reg_file(&line_break).is_err());
        // `wine reg query` as it prints the key.
        let query = "\r\nHKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\LookasideList\\Parameters\r\n    ListType    REG_SZ    a\"b\\c\r\n    StressThreads    REG_DWORD    0x2\r\n\r\n";
        check_arrived(&parameters, query).unwrap();
        let lost = "    StressThreads    REG_DWORD    0x2\r\n";
        let error = check_arrived(&parameters, lost).unwrap_err().to_string();
        assert!(
            error.contains("ListType did not reach the registry"),
            "{error}"
        );
        let changed = "    ListType    REG_SZ    ab\r\n    StressThreads    REG_DWORD    0x2\r\n";
        let error = check_arrived(&parameters, changed).unwrap_err().to_string();
        assert!(error.contains("not as given"), "{error}");
    }

    #[test]
    fn the_run_limit_follows_the_stress_parameters() {
        assert_eq!(run_limit(&[]), Duration::from_mins(1));
        let long = [
            ("StressIterations".to_owned(), Value::Dword(3_000_000)),
            ("StressThreads".to_owned(), Value::Dword(2)),
        ];
        assert_eq!(run_limit(&long), Duration::from_mins(4));
    }
}
