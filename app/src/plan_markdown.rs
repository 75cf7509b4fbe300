//! Markdown plans in and out. Teams already write plans as Markdown documents; the importer
//! turns one into a Runway plan (stages, checklists, risks, runbooks) keeping everything it does
//! not recognise in the description, and the exporter writes any plan back in a shape the
//! importer reads again unchanged.
use crate::plan::NewPlan;
use serde::{Deserialize, Serialize};

/// Larger files are refused before they are read.
pub const IMPORT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// More stages, risks or checks than any plan has are a sign of a document that is not a plan.
pub const MAX_STAGES: usize = 200;
pub const MAX_RISKS: usize = 500;
pub const MAX_CHECKS: usize = 500;

/// What an import would create, shown before anything is saved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportPreview {
    pub plan: NewPlan,
    /// The parts of the document kept in the plan's description: their headings, or
    /// "Text before the first heading".
    pub described: Vec<String>,
    /// Thresholds found in the text ("Error rate > 5%"), and where they were kept.
    pub thresholds: Vec<Threshold>,
    /// What the importer decided that a reader should check.
    pub notes: Vec<String>,
    /// How many steps each stage's runbooks split into, in stage order.
    #[serde(default)]
    pub steps: Vec<StepCounts>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StepCounts {
    pub forward: usize,
    pub rollback: usize,
}

/// What an import created, and what the importer noticed on the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Imported {
    pub plan: crate::plan::Plan,
    pub described: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Threshold {
    pub text: String,
    /// The stage's name, or none for the plan's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

#[cfg(feature = "markdown")]
pub use imp::{decode, export, import, import_text, is_rollback_heading, parse_duration_minutes, parse_duration_seconds};

#[cfg(feature = "markdown")]
mod imp {
    use super::*;
    use crate::checklist::ChecklistDraft;
    use crate::error::ApiError;
    use crate::plan::Plan;
    use crate::risk::{Level, NewRisk};
    use crate::role::PlanRole;
    use crate::stage::{format_minutes, FlagChangeInput, NewStage};
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    use std::ops::Range;

    fn options() -> Options {
        let mut o = Options::empty();
        o.insert(Options::ENABLE_TABLES);
        o.insert(Options::ENABLE_TASKLISTS);
        o.insert(Options::ENABLE_STRIKETHROUGH);
        o
    }

    // ---------------------------------------------------------------- bytes to text

    /// Turns an uploaded file into text, or says clearly why it cannot be a plan.
    /// Returns the text and notes about what was repaired.
    pub fn decode(bytes: &[u8]) -> Result<(String, Vec<String>), ApiError> {
        let mut notes = Vec::new();
        if bytes.len() > IMPORT_MAX_BYTES {
            return Err(ApiError::new(
                413,
                "file_too_large",
                format!("The file is {} bytes; plans are imported up to 5 MB.", bytes.len()),
            )
            .with_field("file"));
        }
        if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
            return Err(refused("not_utf8", "The file is UTF-16. Save it as UTF-8 and import it again."));
        }
        if bytes.contains(&0) {
            return Err(refused("binary_file", "The file is not text (it holds NUL bytes). Import a Markdown (.md) file."));
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.to_string(),
            Err(e) => {
                let line = 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
                notes.push(format!(
                    "The file is not UTF-8 (the first bad byte is on line {line}); it was read as Windows-1252. Check accented letters below."
                ));
                bytes.iter().map(|b| cp1252(*b)).collect()
            }
        };
        let controls = text.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')).count();
        if controls * 20 > text.chars().count().max(1) {
            return Err(refused("binary_file", "The file is not text (too many control characters). Import a Markdown (.md) file."));
        }
        let text = match repair_mojibake(&text) {
            Some(fixed) => {
                notes.push("The text looked like UTF-8 read as Windows-1252 (\"â€”\" for \"—\"); it was repaired.".into());
                fixed
            }
            None => text,
        };
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if text.trim().is_empty() {
            return Err(refused("empty_file", "The file is empty."));
        }
        Ok((text, notes))
    }

    fn refused(code: &str, message: &str) -> ApiError {
        ApiError::new(422, code, message).with_field("file")
    }

    const CP1252_HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’', '“',
        '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];

    fn cp1252(b: u8) -> char {
        match b {
            0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        }
    }

    fn cp1252_byte(c: char) -> Option<u8> {
        match c as u32 {
            0..=0x7F | 0xA0..=0xFF => Some(c as u8),
            _ => CP1252_HIGH.iter().position(|h| *h == c).map(|i| 0x80 + i as u8),
        }
    }

    /// UTF-8 that was once read as Windows-1252 and saved again: "Ã©" for "é", "â€”" for "—".
    /// Undone only when the whole text maps back to bytes that are valid UTF-8.
    fn repair_mojibake(text: &str) -> Option<String> {
        if !(text.contains('Ã') || text.contains("â€")) {
            return None;
        }
        let bytes: Option<Vec<u8>> = text.chars().map(cp1252_byte).collect();
        let fixed = String::from_utf8(bytes?).ok()?;
        (fixed != text).then_some(fixed)
    }

    // ---------------------------------------------------------------- blocks

    #[derive(Debug)]
    enum Kind {
        Heading(u8),
        Paragraph,
        /// Top-level items: (range, task marker).
        List(Vec<(Range<usize>, Option<bool>)>),
        /// Rows of cell ranges; the first is the header.
        Table(Vec<Vec<Range<usize>>>),
        /// `---`: a separator, not content.
        Rule,
        Other,
    }

    #[derive(Debug)]
    struct Block {
        range: Range<usize>,
        kind: Kind,
    }

    /// The document's top-level blocks, each with its source range.
    fn blocks(text: &str) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        let mut depth = 0usize;
        let mut lists = 0usize;
        let mut row: Option<Vec<Range<usize>>> = None;
        for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
            match event {
                Event::Start(tag) => {
                    if depth == 0 {
                        let kind = match &tag {
                            Tag::Heading { level, .. } => Kind::Heading(*level as u8),
                            Tag::Paragraph => Kind::Paragraph,
                            Tag::List(_) => Kind::List(Vec::new()),
                            Tag::Table(_) => Kind::Table(Vec::new()),
                            _ => Kind::Other,
                        };
                        out.push(Block { range: range.clone(), kind });
                    }
                    match &tag {
                        Tag::List(_) => lists += 1,
                        Tag::Item if lists == 1 => {
                            if let Some(Block { kind: Kind::List(items), .. }) = out.last_mut() {
                                items.push((range.clone(), None));
                            }
                        }
                        Tag::TableHead | Tag::TableRow => row = Some(Vec::new()),
                        Tag::TableCell => {
                            if let Some(r) = row.as_mut() {
                                r.push(range.clone());
                            }
                        }
                        _ => {}
                    }
                    depth += 1;
                }
                Event::End(end) => {
                    depth = depth.saturating_sub(1);
                    match end {
                        TagEnd::List(_) => lists = lists.saturating_sub(1),
                        TagEnd::TableHead | TagEnd::TableRow => {
                            if let (Some(r), Some(Block { kind: Kind::Table(rows), .. })) = (row.take(), out.last_mut()) {
                                rows.push(r);
                            }
                        }
                        _ => {}
                    }
                }
                Event::TaskListMarker(done) if lists == 1 => {
                    if let Some(Block { kind: Kind::List(items), .. }) = out.last_mut() {
                        if let Some(last) = items.last_mut() {
                            last.1.get_or_insert(done);
                        }
                    }
                }
                Event::Rule if depth == 0 => out.push(Block { range, kind: Kind::Rule }),
                _ if depth == 0 => out.push(Block { range, kind: Kind::Other }),
                _ => {}
            }
        }
        out
    }

    /// A heading's text without its `#` marks (or a setext heading's underline).
    fn heading_text(src: &str) -> String {
        let src = src.trim();
        if src.starts_with('#') {
            let t = src.trim_start_matches('#').trim();
            let closed = t.trim_end_matches('#');
            if closed.len() < t.len() && (closed.is_empty() || closed.ends_with(' ')) {
                return closed.trim().to_string();
            }
            return t.to_string();
        }
        src.lines().next().unwrap_or("").trim().to_string()
    }

    // ---------------------------------------------------------------- sections

    struct Section {
        heading: Option<usize>,
        level: u8,
        own: Vec<usize>,
        children: Vec<Section>,
    }

    fn sections(blocks: &[Block]) -> Section {
        let mut stack = vec![Section { heading: None, level: 0, own: vec![], children: vec![] }];
        for (i, b) in blocks.iter().enumerate() {
            if let Kind::Heading(level) = b.kind {
                while stack.len() > 1 && stack.last().is_some_and(|s| s.level >= level) {
                    let done = stack.pop().expect("more than one");
                    stack.last_mut().expect("root").children.push(done);
                }
                stack.push(Section { heading: Some(i), level, own: vec![], children: vec![] });
            } else {
                stack.last_mut().expect("root").own.push(i);
            }
        }
        while stack.len() > 1 {
            let done = stack.pop().expect("more than one");
            stack.last_mut().expect("root").children.push(done);
        }
        stack.pop().expect("root")
    }

    fn subtree(s: &Section, out: &mut Vec<usize>) {
        out.extend(s.heading);
        out.extend(&s.own);
        for c in &s.children {
            subtree(c, out);
        }
    }

    fn content(s: &Section) -> Vec<usize> {
        let mut all = Vec::new();
        subtree(s, &mut all);
        all.sort_unstable();
        all.retain(|i| Some(*i) != s.heading);
        all
    }

    // ---------------------------------------------------------------- words

    fn words(s: &str) -> String {
        s.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect()
    }

    /// "Stage 0", "Phase 2: Feature Flag Integration", "Week 1", "Step 3 — …".
    fn is_stage_heading(text: &str) -> bool {
        let w = words(text);
        let mut it = w.split_whitespace();
        matches!(it.next(), Some("stage" | "phase" | "week" | "step"))
            && it.next().is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) || roman(n))
    }

    fn roman(n: &str) -> bool {
        !n.is_empty() && n.len() <= 4 && n.chars().all(|c| matches!(c, 'i' | 'v' | 'x'))
    }

    pub fn is_rollback_heading(text: &str) -> bool {
        let w = format!(" {} ", words(text));
        w.contains(" rollback") || w.contains(" roll back") || w.contains(" revert") || w.contains(" back out")
    }

    fn is_steps_heading(text: &str) -> bool {
        matches!(
            words(text).trim(),
            "steps" | "runbook" | "forward runbook" | "procedure" | "forward" | "actions" | "how to run" | "run steps"
        )
    }

    fn is_flags_heading(text: &str) -> bool {
        matches!(words(text).trim(), "flag changes" | "flags" | "feature flags")
    }

    fn is_checklist_heading(text: &str) -> bool {
        let w = words(text);
        matches!(w.trim(), "checklist" | "verification" | "checks" | "go no go" | "criteria" | "exit criteria" | "go no go criteria")
    }

    /// `**Label**:` or `**Label:**` at the start of a paragraph: (label, the rest).
    fn label(src: &str) -> Option<(String, String)> {
        let s = src.trim_start();
        let rest = s.strip_prefix("**").or_else(|| s.strip_prefix("__"))?;
        let close = rest.find("**").or_else(|| rest.find("__"))?;
        let (name, after) = (&rest[..close], &rest[close + 2..]);
        if name.contains('\n') {
            return None;
        }
        let (name, after) = if let Some(n) = name.strip_suffix(':') {
            (n, after)
        } else {
            (name, after.strip_prefix(':')?)
        };
        Some((name.trim().to_string(), after.trim().to_string()))
    }

    // ---------------------------------------------------------------- import

    struct Importer<'a> {
        text: &'a str,
        blocks: Vec<Block>,
        preview: ImportPreview,
        /// Block indices kept in the plan's description.
        described: Vec<usize>,
        /// The title's block: the first heading.
        title: Option<usize>,
        plan_rollback: Vec<String>,
    }

    /// Imports a file's bytes: `decode`, then `import_text`.
    pub fn import(bytes: &[u8], fallback_title: &str) -> Result<ImportPreview, ApiError> {
        let (text, notes) = decode(bytes)?;
        let mut preview = import_text(&text, fallback_title)?;
        preview.notes.splice(0..0, notes);
        Ok(preview)
    }

    pub fn import_text(text: &str, fallback_title: &str) -> Result<ImportPreview, ApiError> {
        let blocks = blocks(text);
        let title_at = blocks.iter().position(|b| matches!(b.kind, Kind::Heading(_)));
        let mut im = Importer { text, blocks, preview: ImportPreview::default(), described: vec![], title: title_at, plan_rollback: vec![] };
        let root = sections(&im.blocks);
        match title_at {
            None => {
                im.preview.plan.title = first_line_title(text).unwrap_or_else(|| fallback_title.to_string());
                im.preview.notes.push("The document has no headings, so there are no stages; everything is in the description.".into());
                let all: Vec<usize> = (0..im.blocks.len()).collect();
                im.keep_described(&all, "Text before the first heading");
            }
            Some(t) => {
                im.preview.plan.title = heading_text(im.src(t));
                let before: Vec<usize> = root.own.clone();
                if !before.is_empty() {
                    im.keep_described(&before, "Text before the first heading");
                }
                im.plan_sections(&root.children);
            }
        }
        im.finish()
    }

    fn first_line_title(text: &str) -> Option<String> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        let t: String = line.trim_start_matches(['#', '-', '*', '>', ' ']).chars().take(crate::plan::TITLE_MAX).collect();
        Some(t.trim().to_string()).filter(|t| !t.is_empty())
    }

    impl<'a> Importer<'a> {
        fn src(&self, i: usize) -> &'a str {
            let r = &self.blocks[i].range;
            &self.text[r.clone()]
        }

        fn heading(&self, s: &Section) -> String {
            s.heading.map(|h| heading_text(self.src(h))).unwrap_or_default()
        }

        fn keep_described(&mut self, blocks: &[usize], what: &str) {
            let kept = self.extract_plan_level(blocks);
            if !kept.is_empty() {
                self.described.extend(&kept);
                if !self.preview.described.iter().any(|d| d == what) {
                    self.preview.described.push(what.to_string());
                }
            }
        }

        /// Risk tables become risks wherever they are; separators go; the rest stays.
        fn extract_plan_level(&mut self, blocks: &[usize]) -> Vec<usize> {
            blocks.iter().copied().filter(|i| !matches!(self.blocks[*i].kind, Kind::Rule) && !self.take_risks(*i)).collect()
        }

        /// Sections outside stages: the title's, stages, plan-wide rollback, and the rest.
        fn plan_sections(&mut self, sections: &[Section]) {
            for s in sections {
                let h = self.heading(s);
                if s.heading.is_some() && s.heading == self.title {
                    // The title: its own blocks are the summary, owner and the opening text.
                    let own = self.metadata(&s.own);
                    if !own.is_empty() {
                        self.keep_described(&own, "Text under the title");
                    }
                    self.plan_sections(&s.children);
                } else if is_stage_heading(&h) {
                    self.stage(s);
                } else if words(&h).trim() == "stages" {
                    let own = s.own.clone();
                    self.keep_described(&own, &h);
                    for c in &s.children {
                        self.stage(c);
                    }
                } else if is_rollback_heading(&h) {
                    let text = emit(self.text, &self.blocks, &content(s), Some(5));
                    if !text.is_empty() {
                        self.plan_rollback.push(text);
                    }
                    self.preview.notes.push(format!("\"{h}\" is outside any stage: it is the rollback runbook of every stage without its own."));
                } else {
                    let mut kept = self.extract_plan_level(&s.own);
                    let (before, names) = (self.described.len(), self.preview.described.len());
                    self.plan_sections(&s.children);
                    let children_kept = self.described.len() > before;
                    if !kept.is_empty() || children_kept {
                        kept.extend(s.heading);
                        self.described.extend(kept);
                        self.preview.described.insert(names, h);
                    }
                }
            }
        }

        /// `**Summary**:`, `**Owner**:` and `**Rollback target**:` paragraphs right under the title.
        fn metadata(&mut self, own: &[usize]) -> Vec<usize> {
            let mut rest = Vec::new();
            let mut leading = true;
            for &i in own {
                if leading && matches!(self.blocks[i].kind, Kind::Paragraph) {
                    if let Some((name, value)) = label(self.src(i)) {
                        match words(&name).trim() {
                            "summary" => {
                                self.preview.plan.summary = value;
                                continue;
                            }
                            "owner" => {
                                self.preview.plan.owner = value;
                                continue;
                            }
                            _ => {}
                        }
                    }
                }
                leading = false;
                rest.push(i);
            }
            rest
        }

        fn take_risks(&mut self, i: usize) -> bool {
            let Kind::Table(rows) = &self.blocks[i].kind else { return false };
            let Some(header) = rows.first() else { return false };
            let names: Vec<String> = header.iter().map(|r| words(&cell(self.text, r))).collect();
            let col = |pred: &dyn Fn(&str) -> bool| names.iter().position(|n| pred(n.trim()));
            let risk = col(&|n| n == "risk" || n == "risks" || n.starts_with("risk ") || n == "what could go wrong");
            let likelihood = col(&|n| n.contains("likelihood") || n.contains("probability"));
            let impact = col(&|n| n.contains("impact") || n.contains("severity"));
            let mitigation = col(&|n| n.contains("mitigation") || n.contains("response"));
            let (Some(risk), Some(likelihood), Some(impact)) = (risk, likelihood, impact) else { return false };
            let rows: Vec<Vec<String>> = rows[1..].iter().map(|r| r.iter().map(|c| cell(self.text, c)).collect()).collect();
            for (n, r) in rows.iter().enumerate() {
                let get = |c: usize| r.get(c).cloned().unwrap_or_default();
                let text = get(risk);
                if text.trim().is_empty() {
                    continue;
                }
                let level = |c: usize, what: &str, notes: &mut Vec<String>| {
                    let v = get(c);
                    parse_level(&v).unwrap_or_else(|| {
                        notes.push(format!("Risk \"{}\" row {}: {what} {v:?} was read as Medium.", clip(&text, 60), n + 1));
                        Level::Medium
                    })
                };
                let l = level(likelihood, "likelihood", &mut self.preview.notes);
                let im = level(impact, "impact", &mut self.preview.notes);
                self.preview.plan.risks.push(NewRisk {
                    version: None,
                    risk: text,
                    likelihood: l,
                    impact: im,
                    mitigation: mitigation.map(get).unwrap_or_default(),
                });
            }
            true
        }

        fn stage(&mut self, s: &Section) {
            let name = self.heading(s);
            let mut st = NewStage { name: name.clone(), ..Default::default() };
            // Is there an explicit forward runbook? Then loose text is the stage's description.
            let explicit_steps = s.children.iter().any(|c| is_steps_heading(&self.heading(c)))
                || s.own.iter().any(|i| {
                    matches!(self.blocks[*i].kind, Kind::Paragraph)
                        && label(self.src(*i)).is_some_and(|(n, v)| v.is_empty() && is_steps_heading(&n))
                });
            let mut desc: Vec<usize> = Vec::new();
            let mut forward: Vec<usize> = Vec::new();
            let mut rollback: Vec<Vec<usize>> = Vec::new();
            #[derive(Clone, Copy, PartialEq)]
            enum Seg {
                Loose,
                Steps,
                Rollback,
                Flags,
                Other,
            }
            let mut seg = Seg::Loose;
            let own = s.own.clone();
            let mut pending_label: Option<usize> = None;
            for i in own {
                let src = self.src(i);
                if matches!(self.blocks[i].kind, Kind::Rule) {
                    continue;
                }
                if matches!(self.blocks[i].kind, Kind::Paragraph) {
                    if let Some((n, v)) = label(src) {
                        if self.stage_field(&mut st, &n, &v) {
                            continue;
                        }
                        if v.is_empty() {
                            if let Some(p) = pending_label.take() {
                                desc.push(p);
                            }
                            seg = if is_steps_heading(&n) {
                                Seg::Steps
                            } else if is_rollback_heading(&n) {
                                Seg::Rollback
                            } else if is_flags_heading(&n) {
                                Seg::Flags
                            } else {
                                Seg::Other
                            };
                            match seg {
                                Seg::Other | Seg::Flags => pending_label = Some(i),
                                Seg::Rollback => rollback.push(vec![]),
                                _ => {}
                            }
                            continue;
                        }
                    }
                }
                // A label right above a checklist, flag list or risk table is its caption.
                if (seg != Seg::Steps && seg != Seg::Rollback && self.take_checklist(i, &mut st))
                    || self.take_risks(i)
                    || (seg == Seg::Flags && self.take_flags(i, &mut st))
                {
                    pending_label = None;
                    continue;
                }
                if let Some(p) = pending_label.take() {
                    desc.push(p);
                }
                match seg {
                    Seg::Steps => forward.push(i),
                    Seg::Rollback => rollback.last_mut().expect("opened").push(i),
                    Seg::Loose if !explicit_steps => forward.push(i),
                    _ => desc.push(i),
                }
            }
            desc.extend(pending_label);
            for c in &s.children {
                let h = self.heading(c);
                if is_rollback_heading(&h) {
                    rollback.push(content(c));
                } else if is_steps_heading(&h) {
                    forward.extend(content(c));
                } else if is_flags_heading(&h) {
                    let mut left = Vec::new();
                    for i in content(c) {
                        if !self.take_flags(i, &mut st) {
                            left.push(i);
                        }
                    }
                    if !left.is_empty() {
                        desc.extend(c.heading);
                        desc.extend(left);
                    }
                } else {
                    let mut left = Vec::new();
                    for i in content(c) {
                        if !self.take_checklist(i, &mut st) && !self.take_risks(i) {
                            left.push(i);
                        }
                    }
                    let caption_only = left.is_empty() && is_checklist_heading(&h);
                    if !caption_only {
                        let mut all: Vec<usize> = c.heading.into_iter().chain(left).collect();
                        all.sort_unstable();
                        if explicit_steps {
                            desc.extend(all);
                        } else {
                            forward.extend(all);
                        }
                    }
                }
            }
            desc.sort_unstable();
            forward.sort_unstable();
            st.description = emit(self.text, &self.blocks, &desc, Some(4));
            st.forward_runbook = emit(self.text, &self.blocks, &forward, Some(5));
            st.rollback_runbook = rollback
                .iter()
                .map(|r| emit(self.text, &self.blocks, r, Some(5)))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            for t in find_thresholds(&format!("{}\n{}\n{}\n{}", st.goal, st.description, st.forward_runbook, st.rollback_runbook)) {
                self.preview.thresholds.push(Threshold { text: t, stage: Some(name.clone()) });
            }
            self.preview.plan.stages.push(st);
        }

        /// `**Goal**: …`, `**Duration**: 2 h`, `**Soak**: 24 h`, `**Planned start**: …`, `**Gate**: …`.
        fn stage_field(&mut self, st: &mut NewStage, name: &str, value: &str) -> bool {
            if value.is_empty() {
                return false;
            }
            match words(name).trim() {
                "goal" | "goals" | "objective" => {
                    st.goal = value.to_string();
                    true
                }
                "duration" | "planned duration" => {
                    st.planned_duration_minutes = parse_duration_minutes(value);
                    st.planned_duration_minutes.is_some()
                }
                "soak" | "minimum soak" | "min soak" => {
                    st.min_soak_minutes = parse_duration_minutes(value);
                    st.min_soak_minutes.is_some()
                }
                "planned start" | "start" => {
                    let ok = chrono_like_rfc3339(value);
                    if ok {
                        st.planned_start = Some(value.to_string());
                    }
                    ok
                }
                "gate" => match parse_gate(value) {
                    Some((n, roles)) => {
                        st.gate_approvals = Some(n);
                        st.gate_roles = Some(roles);
                        true
                    }
                    None => false,
                },
                _ => false,
            }
        }

        /// A list whose every item is `- [ ]` or `- [x]` becomes checklist items.
        fn take_checklist(&mut self, i: usize, st: &mut NewStage) -> bool {
            let Kind::List(items) = &self.blocks[i].kind else { return false };
            if items.is_empty() || items.iter().any(|(_, t)| t.is_none()) {
                return false;
            }
            for (range, done) in items {
                let raw = &self.text[range.clone()];
                let after = raw.find(']').map(|p| &raw[p + 1..]).unwrap_or(raw);
                let mut text = after.split_whitespace().collect::<Vec<_>>().join(" ");
                let mut required = true;
                if let Some(rest) = text.strip_prefix("(optional)") {
                    text = rest.trim().to_string();
                    required = false;
                }
                if text.is_empty() {
                    continue;
                }
                st.checklist.push(ChecklistDraft { text, required, done: done.unwrap_or(false) });
            }
            true
        }

        /// "- `FLAG` in `production`: on at 10%" items.
        fn take_flags(&mut self, i: usize, st: &mut NewStage) -> bool {
            let Kind::List(items) = &self.blocks[i].kind else { return false };
            let parsed: Option<Vec<FlagChangeInput>> =
                items.iter().map(|(r, _)| parse_flag_change(&self.text[r.clone()])).collect();
            match parsed {
                Some(changes) if !changes.is_empty() => {
                    st.flag_changes.extend(changes);
                    true
                }
                _ => false,
            }
        }

        fn finish(mut self) -> Result<ImportPreview, ApiError> {
            self.described.sort_unstable();
            self.described.dedup();
            let mut p = self.preview;
            p.plan.description = emit(self.text, &self.blocks, &self.described, None);
            for t in find_thresholds(&p.plan.description) {
                p.thresholds.push(Threshold { text: t, stage: None });
            }
            if !self.plan_rollback.is_empty() {
                let rb = self.plan_rollback.join("\n\n");
                if p.plan.stages.is_empty() {
                    p.plan.description = [p.plan.description.as_str(), rb.as_str()]
                        .iter()
                        .filter(|t| !t.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("\n\n");
                } else {
                    for s in p.plan.stages.iter_mut().filter(|s| s.rollback_runbook.is_empty()) {
                        s.rollback_runbook = rb.clone();
                    }
                }
            }
            if p.plan.title.chars().count() > crate::plan::TITLE_MAX {
                p.plan.title = clip(&p.plan.title, crate::plan::TITLE_MAX);
                p.notes.push("The title was shortened to 200 characters.".into());
            }
            if p.plan.title.trim().is_empty() {
                p.plan.title = "Imported plan".into();
            }
            for s in &mut p.plan.stages {
                if s.name.chars().count() > crate::stage::NAME_MAX {
                    let short = clip(&s.name, crate::stage::NAME_MAX);
                    p.notes.push(format!("The stage name \"{}…\" was shortened to 200 characters.", clip(&s.name, 40)));
                    s.name = short;
                }
            }
            if p.plan.stages.len() > MAX_STAGES {
                return Err(refused(
                    "too_many_stages",
                    &format!("The document has {} stage headings; a plan holds at most {MAX_STAGES}.", p.plan.stages.len()),
                ));
            }
            if p.plan.risks.len() > MAX_RISKS {
                return Err(refused("too_many_risks", &format!("The document has {} risks; a plan holds at most {MAX_RISKS}.", p.plan.risks.len())));
            }
            if let Some(s) = p.plan.stages.iter().find(|s| s.checklist.len() > MAX_CHECKS) {
                return Err(refused(
                    "too_many_checks",
                    &format!("Stage \"{}\" has {} checklist items; a stage holds at most {MAX_CHECKS}.", clip(&s.name, 60), s.checklist.len()),
                ));
            }
            p.steps = p
                .plan
                .stages
                .iter()
                .map(|s| StepCounts {
                    forward: crate::runbook::outline(&s.forward_runbook).steps.len(),
                    rollback: crate::runbook::outline(&s.rollback_runbook).steps.len(),
                })
                .collect();
            p.plan.validate().map_err(|e| {
                let what = e.field.clone().unwrap_or_default();
                ApiError::new(422, "too_large_to_import", format!("{} (in {what})", e.message)).with_field("file")
            })?;
            Ok(p)
        }
    }

    fn cell(text: &str, r: &Range<usize>) -> String {
        let raw = text[r.clone()].trim();
        let raw = raw.strip_prefix('|').unwrap_or(raw);
        let raw = raw.strip_suffix('|').filter(|s| !s.ends_with('\\')).unwrap_or(raw);
        raw.trim().replace("\\|", "|")
    }

    fn parse_level(v: &str) -> Option<Level> {
        let w = words(v);
        let w = w.trim();
        Some(match w {
            "low" | "l" | "very low" | "unlikely" | "minor" | "rare" => Level::Low,
            "medium" | "med" | "m" | "moderate" | "possible" => Level::Medium,
            "high" | "h" | "very high" | "critical" | "likely" | "severe" | "major" => Level::High,
            _ if w.starts_with("low") => Level::Low,
            _ if w.starts_with("med") => Level::Medium,
            _ if w.starts_with("high") => Level::High,
            _ => return None,
        })
    }

    fn clip(s: &str, n: usize) -> String {
        s.chars().take(n).collect()
    }

    fn chrono_like_rfc3339(v: &str) -> bool {
        let b = v.as_bytes();
        v.len() >= 20 && v.len() <= 35 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b't') && b[13] == b':'
    }

    /// "30 min", "2 h", "1 h 30 min", "24h", "1 week", "< 5 minutes", "2 d", in whole minutes.
    pub fn parse_duration_minutes(v: &str) -> Option<i64> {
        parse_duration_seconds(v).map(|s| (s + 59) / 60)
    }

    /// Like `parse_duration_minutes`, in seconds ("45 s" is 45).
    pub fn parse_duration_seconds(v: &str) -> Option<i64> {
        let s = v.to_lowercase();
        let mut total: i64 = 0;
        let mut found = false;
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_digit() {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let n: f64 = chars[start..i].iter().collect::<String>().parse().ok()?;
                while i < chars.len() && chars[i] == ' ' {
                    i += 1;
                }
                let ustart = i;
                while i < chars.len() && chars[i].is_alphabetic() {
                    i += 1;
                }
                let unit: String = chars[ustart..i].iter().collect();
                let seconds = match unit.as_str() {
                    "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
                    "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
                    "d" | "day" | "days" => 86400.0,
                    "w" | "wk" | "week" | "weeks" => 604800.0,
                    "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
                    _ => return None,
                };
                // Absurd numbers ("99999999999999 w") are not durations; never overflow on them.
                let add = (n * seconds).ceil();
                if !add.is_finite() || add > 1e12 {
                    return None;
                }
                total = total.checked_add(add as i64)?;
                found = true;
            } else {
                i += 1;
            }
        }
        (found && total > 0 && total <= 525_600 * 60).then_some(total)
    }

    /// "2 of Migration lead, Rollback authority".
    fn parse_gate(v: &str) -> Option<(i64, Vec<PlanRole>)> {
        let (n, roles) = v.split_once(" of ")?;
        let n: i64 = n.trim().parse().ok()?;
        let roles: Option<Vec<PlanRole>> = roles
            .split(',')
            .map(|r| {
                let w = words(r);
                PlanRole::ALL.into_iter().find(|p| words(p.label()).trim() == w.trim())
            })
            .collect();
        Some((n, roles?))
    }

    fn parse_flag_change(item: &str) -> Option<FlagChangeInput> {
        // - `KEY` in `env`: on at 10%   |   - `KEY` in `env`: off
        let s = item.trim().trim_start_matches(['-', '*', '+']).trim();
        let s = s.strip_prefix('`')?;
        let (flag, rest) = s.split_once('`')?;
        let rest = rest.trim().strip_prefix("in")?.trim();
        let rest = rest.strip_prefix('`')?;
        let (env, rest) = rest.split_once('`')?;
        let rest = rest.trim().strip_prefix(':')?.trim().to_lowercase();
        let (enabled, percentage) = if rest == "off" {
            (false, 100)
        } else if rest == "on" {
            (true, 100)
        } else {
            let p = rest.strip_prefix("on at ")?.strip_suffix('%')?.trim().parse().ok()?;
            (true, p)
        };
        Some(FlagChangeInput { flag: flag.to_string(), environment: env.to_string(), enabled, percentage, rules: serde_json::Value::Null })
    }

    /// "Error rate > 5%", "p95 latency > 2x baseline", "Data consistency < 99.99%".
    fn find_thresholds(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut in_code = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            let cells: Vec<&str> = if line.trim_start().starts_with('|') {
                line.split('|').map(str::trim).collect()
            } else {
                vec![line]
            };
            for (c, cell) in cells.iter().enumerate() {
                let Some(op_at) = cell.find(['>', '<', '≥', '≤']) else { continue };
                let after = cell[op_at..].trim_start_matches(['>', '<', '=', '≥', '≤']).trim_start();
                if !after.starts_with(|ch: char| ch.is_ascii_digit()) {
                    continue;
                }
                let before = cell[..op_at].trim();
                let before = before.rsplit([':', '(', ',', ';']).next().unwrap_or(before);
                let before = before.trim().trim_start_matches(['-', '*', ' ']).trim();
                let metric = if before.is_empty() && c > 0 { cells[c - 1] } else { before };
                if metric.is_empty() || metric.starts_with(|ch: char| ch.is_ascii_digit()) {
                    continue;
                }
                let op: String = cell[op_at..].chars().take_while(|ch| matches!(ch, '>' | '<' | '=' | '≥' | '≤')).collect();
                let value: String = after.split(['|', ',', ';', ')']).next().unwrap_or("").trim().to_string();
                let t = format!("{} {op} {value}", metric.trim_matches(['*', '`']));
                if t.len() < 120 && !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The source of `blocks` (sorted), runs of neighbouring blocks verbatim, runs apart
    /// joined by a blank line. With `min_level`, headings are moved down so the shallowest
    /// is at least that level (so they nest under the section they were put in).
    fn emit(text: &str, blocks: &[Block], idx: &[usize], min_level: Option<u8>) -> String {
        if idx.is_empty() {
            return String::new();
        }
        let shift = min_level
            .and_then(|min| {
                let top = idx.iter().filter_map(|i| if let Kind::Heading(l) = blocks[*i].kind { Some(l) } else { None }).min()?;
                Some(min.saturating_sub(top))
            })
            .unwrap_or(0);
        let mut runs: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut last_end: Option<usize> = None;
        for &i in idx {
            let b = &blocks[i];
            let piece = match b.kind {
                Kind::Heading(l) if shift > 0 || !text[b.range.clone()].trim_start().starts_with('#') => {
                    let level = (l + shift).min(6) as usize;
                    format!("{} {}", "#".repeat(level), heading_text(&text[b.range.clone()]))
                }
                _ => text[b.range.clone()].trim_end().to_string(),
            };
            match last_end {
                Some(end) if b.range.start >= end && text[end..b.range.start].trim().is_empty() => {
                    cur.push_str(&text[end..b.range.start]);
                }
                Some(_) => {
                    runs.push(std::mem::take(&mut cur).trim().to_string());
                }
                None => {}
            }
            cur.push_str(&piece);
            last_end = Some(b.range.start + text[b.range.clone()].trim_end().len());
        }
        runs.push(cur.trim().to_string());
        runs.retain(|r| !r.is_empty());
        runs.join("\n\n")
    }

    // ---------------------------------------------------------------- export

    /// The plan as a Markdown document `import` reads back to the same plan.
    pub fn export(plan: &Plan) -> String {
        let mut out = format!("# {}\n\n", one_line(&plan.title));
        if !plan.summary.is_empty() {
            out.push_str(&format!("**Summary**: {}\n\n", plan.summary.trim()));
        }
        if !plan.owner.is_empty() {
            out.push_str(&format!("**Owner**: {}\n\n", plan.owner.trim()));
        }
        if !plan.description.trim().is_empty() {
            out.push_str(plan.description.trim());
            out.push_str("\n\n");
        }
        if !plan.stages.is_empty() {
            out.push_str("## Stages\n\n");
        }
        for s in &plan.stages {
            out.push_str(&format!("### {}\n\n", one_line(&s.name)));
            if !s.goal.is_empty() {
                out.push_str(&format!("**Goal**: {}\n\n", s.goal.trim()));
            }
            if let Some(t) = &s.planned_start {
                out.push_str(&format!("**Planned start**: {t}\n\n"));
            }
            if let Some(m) = s.planned_duration_minutes {
                out.push_str(&format!("**Duration**: {}\n\n", format_minutes(m)));
            }
            if let Some(m) = s.min_soak_minutes {
                out.push_str(&format!("**Soak**: {}\n\n", format_minutes(m)));
            }
            if s.gate_approvals != 1 || s.gate_roles != crate::gate::DEFAULT_GATE_ROLES {
                let roles: Vec<&str> = s.gate_roles.iter().map(|r| r.label()).collect();
                out.push_str(&format!("**Gate**: {} of {}\n\n", s.gate_approvals, roles.join(", ")));
            }
            if !s.description.trim().is_empty() {
                out.push_str(&rebase(s.description.trim(), 4));
                out.push_str("\n\n");
            }
            if !s.flag_changes.is_empty() {
                out.push_str("#### Flag changes\n\n");
                for c in &s.flag_changes {
                    let state = match (c.enabled, c.percentage) {
                        (false, _) => "off".to_string(),
                        (true, 100) => "on".to_string(),
                        (true, p) => format!("on at {p}%"),
                    };
                    out.push_str(&format!("- `{}` in `{}`: {state}\n", c.flag, c.environment));
                }
                out.push('\n');
            }
            if !s.checklist.is_empty() {
                out.push_str("#### Checklist\n\n");
                for c in &s.checklist {
                    let mark = if c.status == crate::checklist::CheckStatus::Pass { "x" } else { " " };
                    let optional = if c.required { "" } else { "(optional) " };
                    out.push_str(&format!("- [{mark}] {optional}{}\n", one_line(&c.text)));
                }
                out.push('\n');
            }
            if !s.forward_runbook.trim().is_empty() || !s.description.trim().is_empty() {
                out.push_str("#### Steps\n\n");
                if !s.forward_runbook.trim().is_empty() {
                    out.push_str(&rebase(s.forward_runbook.trim(), 5));
                    out.push_str("\n\n");
                }
            }
            if !s.rollback_runbook.trim().is_empty() {
                out.push_str("#### Rollback\n\n");
                out.push_str(&rebase(s.rollback_runbook.trim(), 5));
                out.push_str("\n\n");
            }
        }
        if !plan.risks.is_empty() {
            out.push_str("## Risks\n\n| Risk | Likelihood | Impact | Mitigation |\n|------|------------|--------|------------|\n");
            for r in &plan.risks {
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    table_cell(&r.risk),
                    r.likelihood.label(),
                    r.impact.label(),
                    table_cell(&r.mitigation)
                ));
            }
        }
        out.trim_end().to_string() + "\n"
    }

    fn one_line(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn table_cell(s: &str) -> String {
        one_line(s).replace('|', "\\|")
    }

    /// Moves a runbook's headings down so the shallowest is at least `min`.
    fn rebase(md: &str, min: u8) -> String {
        let blocks = blocks(md);
        let all: Vec<usize> = (0..blocks.len()).collect();
        let top = blocks.iter().filter_map(|b| if let Kind::Heading(l) = b.kind { Some(l) } else { None }).min();
        match top {
            Some(t) if t < min => emit(md, &blocks, &all, Some(min)),
            _ => md.to_string(),
        }
    }
}

#[cfg(all(test, feature = "markdown"))]
mod tests {
    use super::*;
    use crate::checklist::{CheckStatus, ChecklistItem};
    use crate::plan::{Plan, PlanStatus};
    use crate::risk::{Level, Risk};
    use crate::stage::{Stage, StageFlagChange, StageStatus};

    fn example(name: &str) -> String {
        let path = format!("{}/../examples/plans/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// What `create_plan` would store, without a database.
    pub(crate) fn as_plan(new: &NewPlan) -> Plan {
        let stages = new
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| Stage {
                id: i as i64 + 1,
                plan_id: 1,
                position: i as i64,
                name: s.name.clone(),
                goal: s.goal.clone(),
                description: s.description.clone(),
                status: StageStatus::Pending,
                planned_start: s.planned_start.clone(),
                planned_duration_minutes: s.planned_duration_minutes,
                min_soak_minutes: s.min_soak_minutes,
                forward_runbook: s.forward_runbook.clone(),
                rollback_runbook: s.rollback_runbook.clone(),
                created_at: String::new(),
                updated_at: String::new(),
                flag_changes: s
                    .flag_changes
                    .iter()
                    .map(|c| StageFlagChange {
                        flag: c.flag.clone(),
                        environment: c.environment.clone(),
                        enabled: c.enabled,
                        percentage: c.percentage,
                        rules: None,
                        applied_at: None,
                        reverted_at: None,
                    })
                    .collect(),
                checklist: s
                    .checklist
                    .iter()
                    .map(|c| ChecklistItem {
                        id: 0,
                        text: c.text.clone(),
                        required: c.required,
                        status: if c.done { CheckStatus::Pass } else { CheckStatus::NotTested },
                        comment: String::new(),
                        evidence_url: None,
                        checked_by: None,
                        checked_at: None,
                    })
                    .collect(),
                started_at: None,
                passed_at: None,
                gate_roles: s.gate_roles.clone().unwrap_or(crate::gate::DEFAULT_GATE_ROLES.to_vec()),
                gate_approvals: s.gate_approvals.unwrap_or(1),
                gates: vec![],
                rollbacks: vec![],
                runs: vec![],
                auto_rollback: s.auto_rollback.unwrap_or(false),
                guards: vec![],
                revision: 0,
                signed_revision: 0,
                change_note: None,
            })
            .collect();
        Plan {
            id: 1,
            title: new.title.clone(),
            summary: new.summary.clone(),
            description: new.description.clone(),
            owner: new.owner.clone(),
            status: PlanStatus::Draft,
            version: 1,
            created_at: String::new(),
            updated_at: String::new(),
            archived_at: None,
            stages,
            risks: new
                .risks
                .iter()
                .enumerate()
                .map(|(i, r)| Risk {
                    id: i as i64,
                    plan_id: 1,
                    position: i as i64,
                    risk: r.risk.clone(),
                    likelihood: r.likelihood,
                    impact: r.impact,
                    mitigation: r.mitigation.clone(),
                })
                .collect(),
            roles: vec![],
            signoffs: vec![],
            review_note: None,
            rollback_target_seconds: 30,
        }
    }

    fn round_trip(new: &NewPlan) {
        let md = export(&as_plan(new));
        let again = import_text(&md, "x").unwrap_or_else(|e| panic!("{e:?}\n{md}"));
        assert_eq!(&again.plan, new, "exported as:\n{md}");
    }

    #[test]
    fn the_queue_migration_imports_with_its_four_phases_twelve_checks_and_four_risks() {
        let p = import(example("queue-system-migration.md").as_bytes(), "queue").unwrap();
        let plan = &p.plan;
        assert_eq!(plan.title, "07 - Appendix: Migration Plan");
        let names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Phase 1: Parallel Implementation (Non-Breaking)",
                "Phase 2: Feature Flag Integration",
                "Phase 3: Gradual Rollout",
                "Phase 4: Legacy Removal"
            ]
        );
        // Three "- [ ]" under each phase's Verification, none ticked.
        for s in &plan.stages {
            assert_eq!(s.checklist.len(), 3, "{}", s.name);
            assert!(s.checklist.iter().all(|c| c.required && !c.done));
        }
        assert_eq!(plan.stages[0].checklist[0].text, "All unit tests pass");
        assert_eq!(plan.stages[3].checklist[2].text, "Documentation is updated");
        assert_eq!(plan.stages[1].goal, "Enable new system via feature flag, run both in parallel");
        // "**Steps**:" lists are the forward runbooks; the other labelled parts are the description.
        assert!(plan.stages[0].forward_runbook.starts_with("1. Create `packages/server/src/queue/` directory"));
        assert!(plan.stages[0].forward_runbook.contains("4. Do NOT wire into existing code yet"));
        assert!(plan.stages[1].description.contains("**Example Delegation**:"));
        assert!(plan.stages[1].description.contains("async submitWithShadow"), "code blocks are kept");
        assert!(plan.stages[2].description.contains("**Rollout Schedule**:"));
        assert!(!plan.stages[0].description.contains("Verification"), "a checklist's caption goes with it");
        // The plan's "Rollback Plan" is every phase's rollback runbook, sub-headings as steps.
        for s in &plan.stages {
            assert!(s.rollback_runbook.contains("##### Immediate Rollback (< 5 minutes)"), "{}", s.rollback_runbook);
            assert!(s.rollback_runbook.contains("Set `useNewQueueSystem: false` in config"));
        }
        let steps = crate::runbook::outline(&plan.stages[0].rollback_runbook);
        assert_eq!(steps.steps.len(), 3);
        assert_eq!(steps.steps[0].planned_seconds, Some(300));
        let risks: Vec<(&str, Level, Level)> = plan.risks.iter().map(|r| (r.risk.as_str(), r.likelihood, r.impact)).collect();
        assert_eq!(
            risks,
            [
                ("Data loss during migration", Level::Low, Level::High),
                ("Performance regression", Level::Medium, Level::Medium),
                ("State inconsistency", Level::Medium, Level::High),
                ("Rollback needed", Level::Medium, Level::Low),
            ]
        );
        assert_eq!(plan.risks[0].mitigation, "Audit log backup, dry-run migration");
        // Everything else is in the description, headings and all.
        for kept in ["## Overview", "### Current Implementation", "## Data Migration", "| `queued` | `PENDING` |", "## Testing Strategy", "## Timeline", "### Dashboards"] {
            assert!(plan.description.contains(kept), "{kept} missing from the description");
        }
        assert!(!plan.description.contains("Rollback Plan"));
        assert!(!plan.description.contains("| Data loss during migration"));
        assert!(p.described.contains(&"Monitoring During Migration".to_string()), "{:?}", p.described);
        let thresholds: Vec<&str> = p.thresholds.iter().map(|t| t.text.as_str()).collect();
        assert!(thresholds.contains(&"Error rate > 1%"), "{thresholds:?}");
        assert!(thresholds.contains(&"p99 latency > 2x baseline"), "{thresholds:?}");
        assert!(thresholds.contains(&"Queue depth growth > 10/min"), "{thresholds:?}");
        round_trip(plan);
    }

    #[test]
    fn the_workspace_migration_imports_with_five_phases_and_the_sql_rollback() {
        let p = import(example("workspace-provider-migration.md").as_bytes(), "ws").unwrap();
        let plan = &p.plan;
        assert_eq!(plan.title, "Fase 2.10 — Migration Path for Existing Workspaces");
        assert_eq!(plan.stages.len(), 5);
        assert_eq!(plan.stages[0].name, "Phase 1: Build standalone MCP servers alongside existing ones");
        assert_eq!(plan.stages[4].name, "Phase 5: Remove old code");
        assert!(plan.stages.iter().all(|s| s.checklist.is_empty()));
        assert!(plan.risks.is_empty());
        // No "Steps" label: a phase's text is what the operator does.
        assert_eq!(crate::runbook::outline(&plan.stages[0].forward_runbook).steps.len(), 3);
        assert!(plan.stages[1].forward_runbook.contains("USE_STANDALONE_MCP=true    # new"));
        assert!(plan.stages[2].forward_runbook.contains("Run for 24h minimum"));
        // "### Rollback:" under Database Migration is outside the phases: every phase gets it.
        for s in &plan.stages {
            assert!(s.rollback_runbook.contains("ALTER TABLE workspaces DROP COLUMN IF EXISTS agent_provider;"), "{}", s.name);
        }
        for kept in ["## Problem", "### Migration 1: Add provider column", "This is the riskiest change. Plan:", "## Session Continuity", "Stage 0: DB migration", "## Data Preservation"] {
            assert!(plan.description.contains(kept), "{kept} missing");
        }
        assert!(!plan.description.contains("### Rollback:"));
        round_trip(plan);
    }

    #[test]
    fn an_export_reads_back_to_the_same_plan() {
        let mut plan = as_plan(&import_text("# T\n\n### Stage 1: a\n\n- one\n- two\n", "x").unwrap().plan);
        plan.summary = "Short summary".into();
        plan.owner = "Platform team".into();
        plan.stages[0].goal = "Go".into();
        plan.stages[0].min_soak_minutes = Some(1440);
        plan.stages[0].planned_duration_minutes = Some(90);
        plan.stages[0].planned_start = Some("2026-12-01T09:00:00Z".into());
        plan.stages[0].gate_approvals = 2;
        plan.stages[0].gate_roles = vec![crate::role::PlanRole::MigrationLead, crate::role::PlanRole::OnCall];
        plan.stages[0].description = "Some words.\n\n#### Notes\n\nMore".into();
        plan.stages[0].flag_changes = vec![StageFlagChange {
            flag: "USE_X".into(),
            environment: "production".into(),
            enabled: true,
            percentage: 10,
            rules: None,
            applied_at: None,
            reverted_at: None,
        }];
        plan.stages[0].rollback_runbook = "1. undo | it".into();
        plan.risks.push(Risk {
            id: 0,
            plan_id: 1,
            position: 0,
            risk: "Pipes | in text".into(),
            likelihood: Level::High,
            impact: Level::Low,
            mitigation: String::new(),
        });
        let md = export(&plan);
        let back = import_text(&md, "x").unwrap().plan;
        assert_eq!(as_plan(&back), plan, "{md}");
    }

    #[test]
    fn bad_files_get_a_clear_message() {
        let code = |b: &[u8]| import(b, "x").err().map(|e| e.code);
        assert_eq!(code(b""), Some("empty_file".into()));
        assert_eq!(code(b"  \n\n"), Some("empty_file".into()));
        assert_eq!(code(b"\x89PNG\r\n\x1a\n\0\0\0"), Some("binary_file".into()));
        assert_eq!(code(b"\xFF\xFEh\0i\0"), Some("not_utf8".into()));
        assert_eq!(code(&vec![b'a'; IMPORT_MAX_BYTES + 1]), Some("file_too_large".into()));
    }

    #[test]
    fn latin1_and_double_encoded_text_are_read_with_a_note() {
        let p = import(b"# Caf\xe9 plan\n\n## Phase 1: go\n", "x").unwrap();
        assert_eq!(p.plan.title, "Café plan");
        assert!(p.notes[0].contains("not UTF-8"));
        let p = import("# Plan â€” Ã©tape\n".as_bytes(), "x").unwrap();
        assert_eq!(p.plan.title, "Plan — étape");
        assert!(p.notes[0].contains("repaired"));
    }

    #[test]
    fn durations_read_as_minutes_and_absurd_ones_are_ignored() {
        assert_eq!(parse_duration_minutes("1 h 30 min"), Some(90));
        assert_eq!(parse_duration_minutes("< 5 minutes"), Some(5));
        assert_eq!(parse_duration_seconds("45 s"), Some(45));
        assert_eq!(parse_duration_minutes("10%"), None);
        assert_eq!(parse_duration_minutes("9w 99999999999999 w"), None);
        // Found by the fuzzer: it used to overflow.
        let p = import(b"#\n# Phase 1:\n**Duration**:9w 99999999999999 w\n", "x").unwrap();
        assert_eq!(p.plan.stages[0].planned_duration_minutes, None);
    }

    #[test]
    fn a_document_without_headings_is_all_description() {
        let p = import(b"Just some notes\n\n- [ ] a task\n", "notes.md").unwrap();
        assert_eq!(p.plan.title, "Just some notes");
        assert!(p.plan.stages.is_empty());
        assert!(p.plan.description.contains("- [ ] a task"));
    }

    #[test]
    fn deep_nesting_and_huge_tables_finish_quickly_or_are_refused_clearly() {
        let mut deep = String::from("# Deep\n\n### Phase 1: x\n\n");
        for i in 0..5_000 {
            deep.push_str(&" ".repeat(i * 2));
            deep.push_str("- item\n");
        }
        let quotes = format!("# Q\n\n{}x\n", ">".repeat(100_000));
        let mut table = String::from("# T\n\n| Risk | Probability | Impact | Mitigation |\n|---|---|---|---|\n");
        for i in 0..600 {
            table.push_str(&format!("| r{i} | Low | High | m |\n"));
        }
        for doc in [deep, quotes] {
            let _ = import(doc.as_bytes(), "x");
        }
        assert_eq!(import(table.as_bytes(), "x").unwrap_err().code, "too_many_risks");
    }
}

#[cfg(all(test, feature = "markdown"))]
mod fuzz_corpus {
    /// Replays the cargo-fuzz corpus (`fuzz/corpus/import_markdown`, see `fuzz/`): every input
    /// is imported or refused with an error, and every runbook it yields splits into steps.
    #[test]
    fn every_fuzz_corpus_input_imports_or_is_refused_without_panicking() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/import_markdown");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{dir}: {e}")).path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files += 1;
            let outcome = std::panic::catch_unwind(|| {
                if let Ok(preview) = super::import(&bytes, "fuzz") {
                    for stage in &preview.plan.stages {
                        let _ = crate::runbook::outline(&stage.forward_runbook);
                        let _ = crate::runbook::outline(&stage.rollback_runbook);
                    }
                }
            });
            assert!(outcome.is_ok(), "importing {} panicked", path.display());
        }
        assert!(files >= 10, "{dir} holds {files} files; the corpus should have at least 10");
    }
}
