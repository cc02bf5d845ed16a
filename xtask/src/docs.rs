//! The README and the manual held to the code, as rust-analyzer's tidy does.
//!
//! A block between `<!-- generated: NAME -->` and `<!-- end: NAME -->` in a document is made
//! from the code ([`generate`]): `cargo xtask docs` writes every block anew, and the check of
//! `cargo xtask test` fails, naming the file and line, where one differs. The check also
//! resolves every relative link and `#anchor`, finds every tracked top-level file and folder in
//! the README's layout, and keeps the README a front page (at most [`README_LIMIT`] bytes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use lookaside_contract::parameters::{self as table, Kind};
use lookaside_contract::seed;

use crate::{bench, debian, workspace};

/// The README's size limit: a front page, the manual in docs/.
pub const README_LIMIT: usize = 10 * 1024;

/// The documents checked, relative to the workspace root: the README, the manual, the
/// library's README.
fn documents() -> Result<Vec<PathBuf>> {
    let root = workspace::root();
    let mut documents = vec![
        root.join("README.md"),
        root.join("crates/wdm-lookaside/README.md"),
    ];
    let mut manual: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .context("reading docs/")?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    manual.sort();
    documents.extend(manual);
    Ok(documents)
}

/// The text of generated block `name`, from the code.
fn generate(name: &str, checks: &[String]) -> Result<String> {
    Ok(match name {
        "packages" => format!("Debian packages: `{}`.\n", packages().join(" ")),
        "package-table" => {
            let mut text = "| Debian package | what for |\n|---|---|\n".to_owned();
            for need in needs() {
                let _ = writeln!(text, "| `{}` | {} |", need.package, need.why);
            }
            text
        }
        "transcript" => format!("```text\n{}```\n", seed::TRANSCRIPT),
        "transcript-excerpt" => {
            let lines: Vec<&str> = seed::TRANSCRIPT.lines().collect();
            let mut text = "```text\n".to_owned();
            for line in &lines[..5] {
                let _ = writeln!(text, "{line}");
            }
            text.push_str("...\n");
            for line in &lines[lines.len() - 3..] {
                let _ = writeln!(text, "{line}");
            }
            text.push_str("```\n");
            text
        }
        "parameters" => parameters_table(),
        "bench-defaults" => format!(
            "Without the flags: `--stress {}` pairs per thread, `--threads {}`, `--turns {}`.\n",
            bench::DEFAULT_PAIRS,
            bench::DEFAULT_THREADS.map(|n| n.to_string()).join(","),
            bench::DEFAULT_TURNS
        ),
        "checks" => checks.iter().fold(String::new(), |mut text, name| {
            let _ = writeln!(text, "- {name}");
            text
        }),
        "windows-ci" => windows_ci_commands()?
            .iter()
            .fold(String::new(), |mut text, command| {
                let _ = writeln!(text, "- `{command}`");
                text
            }),
        other => bail!("no generated block is named `{other}`"),
    })
}

fn needs() -> impl Iterator<Item = &'static debian::Need> {
    [debian::BUILD, debian::WINE, debian::PACKAGE]
        .into_iter()
        .flatten()
}

/// Every Debian package the commands install, in the order they are listed.
fn packages() -> Vec<&'static str> {
    let mut packages: Vec<&str> = Vec::new();
    for need in needs() {
        if !packages.contains(&need.package) {
            packages.push(need.package);
        }
    }
    packages
}

/// The parameters' table, from the contract's.
fn parameters_table() -> String {
    let mut text =
        "| value | range | default | `cargo xtask` flag | what it does |\n|---|---|---|---|---|\n"
            .to_owned();
    for parameter in table::ALL {
        let flag = match parameter.kind {
            Kind::Number { unit } => format!("`{} N` ({unit})", parameter.flag),
            Kind::Choice(names) => format!("`{} {}`", parameter.flag, names.join("\\|")),
            Kind::Switch => format!("`{}`", parameter.flag),
        };
        let _ = writeln!(
            text,
            "| `{}` | {}..{} | {} | {flag} | {} |",
            parameter.name_str(),
            parameter.min,
            parameter.max,
            parameter.default,
            parameter.summary
        );
    }
    text
}

/// The cargo commands the Windows workflow runs (its `run: cargo ...` lines).
fn windows_ci_commands() -> Result<Vec<String>> {
    let workflow = workspace::root().join(".github/workflows/windows.yml");
    let text = std::fs::read_to_string(&workflow)
        .with_context(|| format!("reading {}", workflow.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("run: cargo "))
        .map(|rest| format!("cargo {rest}"))
        .collect())
}

/// A generated block found in a document: its name, its first line (1-based) and its text.
struct Block {
    name: String,
    line: usize,
    start: usize,
    end: usize,
}

/// The generated blocks of `text`, or what is wrong with their markers.
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut from = 0;
    // A marker stands on a line of its own (prose may mention one).
    while let Some(at) = text[from..].find("\n<!-- generated: ") {
        let open = from + at + 1;
        let name_start = open + "<!-- generated: ".len();
        let name_end = text[name_start..]
            .find(" -->")
            .map(|end| name_start + end)
            .ok_or("a `<!-- generated:` marker is not closed")?;
        let name = text[name_start..name_end].to_owned();
        let start = text[name_end..]
            .find('\n')
            .map(|end| name_end + end + 1)
            .ok_or("a generated block has no body")?;
        let close_marker = format!("\n<!-- end: {name} -->");
        let end = text[start..]
            .find(&close_marker)
            .map(|end| start + end + 1)
            .ok_or_else(|| format!("the block `{name}` has no `<!-- end: {name} -->` line"))?;
        let line = text[..open].lines().count() + 1;
        blocks.push(Block {
            name,
            line,
            start,
            end,
        });
        from = end + close_marker.len();
    }
    Ok(blocks)
}

/// `cargo xtask docs`: every generated block written anew from the code.
pub fn write(checks: &[String]) -> Result<()> {
    for document in documents()? {
        let text = std::fs::read_to_string(&document)?;
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for block in blocks(&text).map_err(anyhow::Error::msg)? {
            out.push_str(&text[at..block.start]);
            out.push_str(&generate(&block.name, checks)?);
            at = block.end;
        }
        out.push_str(&text[at..]);
        if out != text {
            std::fs::write(&document, out)?;
            println!("wrote {}", relative(&document));
        }
    }
    Ok(())
}

/// The check: one line per problem, naming the document and line.
pub fn check(checks: &[String]) -> Result<()> {
    let mut problems = Vec::new();
    for document in documents()? {
        let text = std::fs::read_to_string(&document)
            .with_context(|| format!("reading {}", document.display()))?;
        let name = relative(&document);
        match blocks(&text) {
            Ok(blocks) => {
                for block in blocks {
                    let wanted = generate(&block.name, checks)?;
                    if text[block.start..block.end] != wanted {
                        problems.push(format!(
                            "{name}:{}: the block `{}` no longer says what the code does; `cargo xtask docs` writes it anew",
                            block.line, block.name
                        ));
                    }
                }
            }
            Err(error) => problems.push(format!("{name}: {error}")),
        }
        problems.extend(broken_links(&document, &text));
    }
    problems.extend(readme_checks()?);
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("\n    "))
    }
}

/// The README: within its size, naming every tracked top-level entry in its layout, and
/// holding the parameters' table and the package list.
fn readme_checks() -> Result<Vec<String>> {
    let readme = workspace::root().join("README.md");
    let text = std::fs::read_to_string(&readme)?;
    let mut problems = Vec::new();
    if text.len() > README_LIMIT {
        problems.push(format!(
            "README.md: {} bytes, over the front page's {README_LIMIT}: move detail into docs/",
            text.len()
        ));
    }
    for required in ["parameters", "packages", "transcript-excerpt", "windows-ci"] {
        if !text.contains(&format!("<!-- generated: {required} -->")) {
            problems.push(format!(
                "README.md: no generated block `{required}` (the README shows it)"
            ));
        }
    }
    let layout = text
        .split_once("<!-- layout -->")
        .and_then(|(_, rest)| rest.split_once("<!-- end: layout -->"))
        .map(|(layout, _)| layout)
        .unwrap_or_default();
    let line = text
        .lines()
        .position(|line| line.contains("<!-- layout -->"))
        .map_or(0, |index| index + 1);
    for entry in top_level_entries()? {
        if !layout.contains(&format!("`{entry}`")) && !layout.contains(&format!("`{entry}/")) {
            problems.push(format!(
                "README.md:{line}: the layout does not name the tracked `{entry}`"
            ));
        }
    }
    Ok(problems)
}

/// The top-level files and folders git tracks.
fn top_level_entries() -> Result<Vec<String>> {
    let output = Command::new("git")
        .current_dir(workspace::root())
        .args(["ls-files"])
        .output()
        .context("running git ls-files")?;
    let mut entries: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|path| path.split('/').next())
        .map(str::to_owned)
        .collect();
    entries.sort();
    entries.dedup();
    Ok(entries)
}

/// The relative links of `text` (outside code blocks) whose file or `#anchor` does not exist.
fn broken_links(document: &Path, text: &str) -> Vec<String> {
    let dir = document.parent().unwrap_or_else(|| Path::new("."));
    let name = relative(document);
    let mut problems = Vec::new();
    let mut in_code = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for target in link_targets(line) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() {
                document.to_path_buf()
            } else {
                dir.join(path)
            };
            if !file.exists() {
                problems.push(format!(
                    "{name}:{}: the link `{target}` names no file",
                    index + 1
                ));
                continue;
            }
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&file)
                    .map(|text| anchors(&text))
                    .unwrap_or_default();
                if !headings.iter().any(|heading| heading == anchor) {
                    problems.push(format!(
                        "{name}:{}: the link `{target}` names no heading of {}",
                        index + 1,
                        relative(&file)
                    ));
                }
            }
        }
    }
    problems
}

/// The targets of the Markdown links `[text](target)` on `line`.
fn link_targets(line: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(&after[..end]);
        rest = &after[end..];
    }
    targets
}

/// The anchors GitHub makes of a document's headings: lower case, spaces as hyphens, other
/// punctuation dropped.
fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            !in_code && line.starts_with('#')
        })
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_githubs() {
        assert_eq!(
            anchors(
                "# A\n## When a load ends\n```\n# not a heading\n```\n### The fixture's block\n## `cargo xtask test`\n"
            ),
            [
                "a",
                "when-a-load-ends",
                "the-fixtures-block",
                "cargo-xtask-test"
            ]
        );
    }

    #[test]
    fn links_and_blocks_are_found() {
        assert_eq!(
            link_targets("see [a](docs/a.md#x) and [b](https://example.org) [c](#y)"),
            ["docs/a.md#x", "https://example.org", "#y"]
        );
        let text = "x `<!-- generated: prose -->`\n<!-- generated: packages -->\nold\n<!-- end: packages -->\ny\n";
        let found = blocks(text).unwrap();
        assert_eq!((found[0].name.as_str(), found[0].line), ("packages", 2));
        assert_eq!(&text[found[0].start..found[0].end], "old\n");
        assert!(blocks("\n<!-- generated: x -->\nno end\n").is_err());
    }

    /// The bench's default pairs, changed in the code alone, fail the check naming the
    /// document (what issue-level acceptance asks of the check).
    #[test]
    fn a_changed_default_makes_its_block_stale() {
        let generated = generate("bench-defaults", &[]).unwrap();
        assert!(generated.contains(&bench::DEFAULT_PAIRS.to_string()));
        let stale = generated.replace(&bench::DEFAULT_PAIRS.to_string(), "300000");
        assert_ne!(stale, generated);
    }
}
