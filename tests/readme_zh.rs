//! README.zh-CN.md is the Simplified Chinese translation of README.md: its prose
//! is translated, its fenced code blocks (commands, rules, sample output) are
//! copied byte for byte. These tests fail when README.md changes a code block,
//! adds or removes a `## ` section or loses the link between the two, and the
//! translation was not brought along.

use std::path::Path;

const EN: &str = "README.md";
const ZH: &str = "README.zh-CN.md";
const FIX: &str = "update README.zh-CN.md to match README.md \
                   (code blocks are copied byte for byte; only the prose is translated)";

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fenced code block: the line its opening fence is on (1-based) and its
/// text from the opening fence (with its info string) to the closing fence.
struct Block {
    line: usize,
    text: String,
}

/// Every ```-fenced code block in `doc`, in order.
fn code_blocks(name: &str, doc: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match open.as_mut() {
            None if fence => {
                open = Some(Block {
                    line: i + 1,
                    text: format!("{line}\n"),
                })
            }
            None => {}
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
                if fence && line.trim() == "```" {
                    blocks.extend(open.take());
                }
            }
        }
    }
    if let Some(block) = open {
        panic!(
            "{name}: the code block opened on line {} is never closed",
            block.line
        );
    }
    blocks
}

/// The number of `## ` headings outside code blocks.
fn h2_count(doc: &str) -> usize {
    let mut in_block = false;
    let mut count = 0;
    for line in doc.lines() {
        if in_block {
            in_block = line.trim() != "```";
        } else if line.trim_start().starts_with("```") {
            in_block = true;
        } else if line.starts_with("## ") {
            count += 1;
        }
    }
    count
}

/// The first line where `a` and `b` differ (1-based, within the block), with both versions.
fn first_difference(a: &str, b: &str) -> String {
    let (mut a_lines, mut b_lines) = (a.lines(), b.lines());
    for n in 1.. {
        match (a_lines.next(), b_lines.next()) {
            (None, None) => break,
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "first difference at line {n} of the block:\n  {EN}: {}\n  {ZH}: {}",
                    x.unwrap_or("<block ended>"),
                    y.unwrap_or("<block ended>")
                )
            }
        }
    }
    "the blocks differ only in line endings or trailing whitespace".to_string()
}

#[test]
fn readme_zh_code_blocks_match_readme() {
    let en = code_blocks(EN, &read(EN));
    let zh = code_blocks(ZH, &read(ZH));
    assert!(
        !en.is_empty(),
        "{EN} has no code blocks: is it the right file?"
    );
    for (i, (e, z)) in en.iter().zip(&zh).enumerate() {
        assert!(
            e.text == z.text,
            "code block {} of {} differs: {EN} line {}, {ZH} line {}\n{}\n\
             --- {EN} ---\n{}--- {ZH} ---\n{}\n{FIX}",
            i + 1,
            en.len(),
            e.line,
            z.line,
            first_difference(&e.text, &z.text),
            e.text,
            z.text,
        );
    }
    if en.len() != zh.len() {
        let (more, more_name, fewer_name) = if en.len() > zh.len() {
            (&en, EN, ZH)
        } else {
            (&zh, ZH, EN)
        };
        let extra: Vec<String> = more[en.len().min(zh.len())..]
            .iter()
            .map(|b| format!("  line {}: {}", b.line, b.text.lines().nth(1).unwrap_or("")))
            .collect();
        panic!(
            "{EN} has {} code blocks, {ZH} has {}: {more_name} has these after the last one \
             {fewer_name} has:\n{}\n{FIX}",
            en.len(),
            zh.len(),
            extra.join("\n"),
        );
    }
}

#[test]
fn readme_zh_has_as_many_sections_as_readme() {
    let (en, zh) = (h2_count(&read(EN)), h2_count(&read(ZH)));
    assert!(en > 0, "{EN} has no `## ` headings: is it the right file?");
    assert_eq!(
        en, zh,
        "{EN} has {en} `## ` headings, {ZH} has {zh}: a section was added or removed; \
         translate its heading in the same place. {FIX}"
    );
}

#[test]
fn readme_and_readme_zh_link_each_other() {
    let en = read(EN);
    assert!(
        en.lines()
            .take(3)
            .any(|l| l.contains("[简体中文](README.zh-CN.md)")),
        "{EN}'s first lines must link the translation: `[简体中文](README.zh-CN.md)`"
    );
    let zh = read(ZH);
    let first = zh.lines().next().unwrap_or("");
    assert!(
        first.contains("[English](README.md)"),
        "{ZH}'s first line must link back: `[English](README.md) | 简体中文`, found {first:?}. {FIX}"
    );
}
