//! The KFS as a PDF (A4, the PDF's built-in Helvetica): the parts, then the repayment schedule on
//! as many pages as it needs, each with its column heads.
//!
//! The layout is computed first as plain pages of positioned lines (testable without a PDF), then
//! written with printpdf. The built-in fonts carry Windows-1252 only, so the rupee sign is written
//! `Rs.` and any other character outside it `?`.

use printpdf::{BuiltinFont, IndirectFontRef, Mm, PdfDocument, PdfDocumentReference};

use loanbook_domain::origination::kfs::KeyFacts;

use super::{DocumentError, heading, schedule_lines, sections};

/// Schedule rows on one page.
pub const ROWS_PER_PAGE: usize = 45;

const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
const MARGIN: f32 = 18.0;
const TOP: f32 = PAGE_HEIGHT - MARGIN;
const LINE: f32 = 5.0;
const SIZE: f32 = 9.0;
/// Lines of the parts on one page, below the top margin and above the footer.
const LINES_PER_PAGE: usize = 50;
/// Characters on one line of the value column (about 100 mm of 9 pt Helvetica) and of the label
/// column (about 58 mm).
const VALUE_WIDTH: usize = 62;
const LABEL_WIDTH: usize = 34;

/// One piece of text at a place on a page.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Text {
    pub x: f32,
    pub y: f32,
    pub bold: bool,
    /// Right-aligned at `x` when true.
    pub right: bool,
    pub text: String,
}

pub(super) type Page = Vec<Text>;

/// The KFS as a PDF document.
pub fn kfs_pdf(kfs: &KeyFacts) -> Result<Vec<u8>, DocumentError> {
    let pages = layout(kfs);
    let title = format!("Key Facts Statement {}", kfs.issue.application_number);
    let (doc, first_page, first_layer) =
        PdfDocument::new(pdf_text(&title), Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "text");
    let regular = font(&doc, BuiltinFont::Helvetica)?;
    let bold = font(&doc, BuiltinFont::HelveticaBold)?;
    let count = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let (page_index, layer_index) = if i == 0 {
            (first_page, first_layer)
        } else {
            doc.add_page(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "text")
        };
        let layer = doc.get_page(page_index).get_layer(layer_index);
        let footer = format!("Page {} of {count}", i + 1);
        let footer = Text {
            x: PAGE_WIDTH - MARGIN,
            y: MARGIN / 2.0,
            bold: false,
            right: true,
            text: footer,
        };
        for t in page.iter().chain(std::iter::once(&footer)) {
            let f = if t.bold { &bold } else { &regular };
            let text = pdf_text(&t.text);
            let x = if t.right {
                t.x - width_mm(&text, SIZE)
            } else {
                t.x
            };
            layer.use_text(text, SIZE, Mm(x), Mm(t.y), f);
        }
    }
    doc.save_to_bytes()
        .map_err(|e| DocumentError::Pdf(e.to_string()))
}

fn font(doc: &PdfDocumentReference, f: BuiltinFont) -> Result<IndirectFontRef, DocumentError> {
    doc.add_builtin_font(f)
        .map_err(|e| DocumentError::Pdf(e.to_string()))
}

/// Text the built-in fonts can show: `₹` as `Rs.`, dashes and quotes plain, anything outside
/// Latin-1 `?`.
pub(super) fn pdf_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '₹' => out.push_str("Rs. "),
            '–' | '—' | '−' => out.push('-'),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            ' '..='~' | '\u{a0}'..='\u{ff}' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The width of text in Helvetica at `size` points, in mm (Helvetica's metrics for the characters
/// of amounts; others at an average width).
fn width_mm(s: &str, size: f32) -> f32 {
    let units: u32 = s
        .chars()
        .map(|c| match c {
            '0'..='9' => 556,
            ',' | '.' | ' ' => 278,
            '-' => 333,
            'R' => 722,
            's' => 500,
            _ => 556,
        })
        .sum();
    units as f32 / 1000.0 * size * 25.4 / 72.0
}

/// Words of `text` in lines of at most `width` characters (a longer word on a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lines flowing down pages, a new page when one is full.
#[derive(Default)]
struct Flow {
    pages: Vec<Page>,
    page: Page,
    used: usize,
}

impl Flow {
    fn line(&mut self, texts: Vec<Text>) {
        if self.used >= LINES_PER_PAGE {
            self.pages.push(std::mem::take(&mut self.page));
            self.used = 0;
        }
        let y = TOP - LINE * self.used as f32;
        self.page.extend(texts.into_iter().map(|t| Text { y, ..t }));
        self.used += 1;
    }

    fn finish(mut self) -> Vec<Page> {
        self.pages.push(self.page);
        self.pages
    }
}

fn at(x: f32, bold: bool, text: String) -> Text {
    Text {
        x,
        y: 0.0,
        bold,
        right: false,
        text,
    }
}

/// Every page: the heading and the parts, flowing over pages; then the schedule from a new page,
/// [`ROWS_PER_PAGE`] rows a page under its column heads.
pub(super) fn layout(kfs: &KeyFacts) -> Vec<Page> {
    let mut flow = Flow::default();
    for (i, line) in heading(kfs).into_iter().enumerate() {
        flow.line(vec![at(MARGIN, i == 0, line)]);
    }
    for section in sections(kfs) {
        flow.line(vec![]);
        flow.line(vec![at(MARGIN, true, section.title.to_owned())]);
        for (n, label, value) in section.rows {
            let labels = wrap(&label, LABEL_WIDTH);
            let values = wrap(&value, VALUE_WIDTH);
            for k in 0..labels.len().max(values.len()) {
                let mut texts = Vec::new();
                if k == 0 {
                    texts.push(at(MARGIN, false, n.clone()));
                }
                if let Some(l) = labels.get(k) {
                    texts.push(at(MARGIN + 12.0, false, l.clone()));
                }
                if let Some(v) = values.get(k) {
                    texts.push(at(MARGIN + 72.0, false, v.clone()));
                }
                flow.line(texts);
            }
        }
    }
    let mut pages = flow.finish();
    pages.extend(schedule_pages(kfs));
    pages
}

/// Right edges of the schedule's amount columns, and the left edges of the first two.
const COLUMNS: [(f32, bool); 6] = [
    (MARGIN, false),
    (MARGIN + 16.0, false),
    (MARGIN + 75.0, true),
    (MARGIN + 105.0, true),
    (MARGIN + 135.0, true),
    (MARGIN + 170.0, true),
];

fn schedule_pages(kfs: &KeyFacts) -> Vec<Page> {
    let lines = schedule_lines(kfs);
    let heads = [
        "No.",
        "Due date",
        "Outstanding principal",
        "Principal",
        "Interest",
        "Instalment",
    ];
    let cells = |texts: [&str; 6], y: f32, bold: bool| -> Vec<Text> {
        COLUMNS
            .iter()
            .zip(texts)
            .map(|(&(x, right), text)| Text {
                x,
                y,
                bold,
                right,
                text: text.to_owned(),
            })
            .collect()
    };
    lines
        .chunks(ROWS_PER_PAGE)
        .map(|chunk| {
            let mut page = vec![Text {
                x: MARGIN,
                y: TOP,
                bold: true,
                right: false,
                text: "Annex C: Repayment schedule".to_owned(),
            }];
            page.extend(cells(heads, TOP - 2.0 * LINE, true));
            for (i, r) in chunk.iter().enumerate() {
                let y = TOP - LINE * (i as f32 + 3.0);
                page.extend(cells(
                    [
                        &r.number,
                        &r.due_date,
                        &r.outstanding,
                        &r.principal,
                        &r.interest,
                        &r.installment,
                    ],
                    y,
                    false,
                ));
            }
            page
        })
        .collect()
}
