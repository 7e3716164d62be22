//! The net-banking CSV exports of the banks Loanbook reads, told apart by their header row.
//!
//! Each bank writes some metadata lines (name, account, period) before the header row, and
//! summaries, legends or totals after the last transaction. The reader skips blank lines, rows
//! without a date that carry no amount (an opening balance), repeated headers (page breaks) and
//! separator rows; it joins a narration wrapped onto a dateless row to the row above; and it stops
//! at the first footer row (`Statement Summary`, `Legends`, `Total`, …).
//!
//! Headers are compared with case, spaces and punctuation removed (`Withdrawal Amt.` is
//! `withdrawalamt`), so padding and the usual spelling variants (`Chq./Ref.No.`, `Chq/Ref No.`)
//! match.

use jiff::civil::Date;

use super::amount::parse_bank_amount;
use super::{
    Bank, HEADER_SEARCH_LINES, MAX_FILE_BYTES, MAX_ROW_ERRORS, MAX_TRANSACTIONS, RowError, Source,
    Statement, StatementError, Transaction, clip, finish,
};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Date,
    Narration,
    Reference,
    Debit,
    Credit,
    /// One amount column with a separate [`Role::Flag`] column saying Dr or Cr.
    Amount,
    Flag,
    Balance,
    /// Dr/Cr beside the balance (an overdrawn balance is Dr).
    BalanceFlag,
}

/// One bank's export: its columns (each with the header spellings seen) and date formats.
struct Layout {
    bank: Bank,
    columns: &'static [(Role, &'static [&'static str])],
    dates: &'static [&'static str],
}

const DMY: &[&str] = &["%d/%m/%Y", "%d-%m-%Y", "%d/%m/%y", "%d-%m-%y"];

/// The layouts, most specific first (the first whose required columns are all present wins).
const LAYOUTS: &[Layout] = &[
    // Axis CSV export (current/corporate): one amount column and a DR/CR flag.
    Layout {
        bank: Bank::Axis,
        columns: &[
            (
                Role::Date,
                &["transactiondateddmmyyyy", "transactiondate", "trandate"],
            ),
            (Role::Narration, &["particulars"]),
            (Role::Amount, &["amountinr", "amount"]),
            (Role::Flag, &["debitcredit", "drcr"]),
            (Role::Balance, &["balanceinr", "balance"]),
            (Role::Reference, &["chequenumber", "chqno", "chequeno"]),
        ],
        dates: DMY,
    },
    // Kotak, amount + Dr/Cr layout: `Sl.No., Date, Description, Chq / Ref number, Amount, Dr / Cr,
    // Balance, Dr / Cr`.
    Layout {
        bank: Bank::Kotak,
        columns: &[
            (Role::Date, &["date", "transactiondate"]),
            (Role::Narration, &["description", "narration"]),
            (Role::Amount, &["amount"]),
            (Role::Flag, &["drcr"]),
            (Role::Balance, &["balance"]),
            (Role::BalanceFlag, &["drcr"]),
            (Role::Reference, &["chqrefnumber", "chqrefno"]),
        ],
        dates: DMY,
    },
    // HDFC: `Date, Narration, Chq./Ref.No., Value Dt, Withdrawal Amt., Deposit Amt., Closing Balance`.
    Layout {
        bank: Bank::Hdfc,
        columns: &[
            (Role::Date, &["date"]),
            (Role::Narration, &["narration"]),
            (Role::Debit, &["withdrawalamt"]),
            (Role::Credit, &["depositamt"]),
            (Role::Balance, &["closingbalance"]),
            (Role::Reference, &["chqrefno"]),
        ],
        dates: &["%d/%m/%y", "%d/%m/%Y"],
    },
    // ICICI net banking (several variants; `Transaction Remarks` is common to all).
    Layout {
        bank: Bank::Icici,
        columns: &[
            (Role::Date, &["transactiondate", "valuedate"]),
            (Role::Narration, &["transactionremarks"]),
            (
                Role::Debit,
                &["withdrawalamountinr", "debitamount", "withdrawaldr"],
            ),
            (
                Role::Credit,
                &["depositamountinr", "creditamount", "depositcr"],
            ),
            (Role::Balance, &["balanceinr", "balance"]),
            (Role::Reference, &["chequenumber", "chequenorefno"]),
        ],
        dates: DMY,
    },
    // Axis savings: `Tran Date, Chq No, Particulars, Debit, Credit, Balance, Init. br`.
    Layout {
        bank: Bank::Axis,
        columns: &[
            (Role::Date, &["trandate"]),
            (Role::Narration, &["particulars"]),
            (Role::Debit, &["debit"]),
            (Role::Credit, &["credit"]),
            (Role::Balance, &["balance"]),
            (Role::Reference, &["chqno"]),
        ],
        dates: DMY,
    },
    // SBI: `Txn Date, Value Date, Description, Ref No./Cheque No., (Branch Code), Debit, Credit,
    // Balance`, dates as `05 Aug 2026` or `05-Aug-2026`.
    Layout {
        bank: Bank::Sbi,
        columns: &[
            (Role::Date, &["txndate"]),
            (Role::Narration, &["description"]),
            (Role::Debit, &["debit"]),
            (Role::Credit, &["credit"]),
            (Role::Balance, &["balance"]),
            (
                Role::Reference,
                &["refnochequeno", "chequenorefno", "refno"],
            ),
        ],
        dates: &[
            "%d %b %Y", "%d-%b-%Y", "%d-%b-%y", "%d %b %y", "%d/%m/%Y", "%d-%m-%Y",
        ],
    },
    // Kotak, split layout: `Date, Narration, Chq/Ref No., Withdrawal (Dr), Deposit (Cr), Balance`.
    Layout {
        bank: Bank::Kotak,
        columns: &[
            (Role::Date, &["date"]),
            (Role::Narration, &["narration", "description"]),
            (Role::Debit, &["withdrawaldr", "debit"]),
            (Role::Credit, &["depositcr", "credit"]),
            (Role::Balance, &["balance"]),
            (Role::Reference, &["chqrefno", "refno"]),
        ],
        dates: DMY,
    },
];

/// Lower-case letters and digits only: `"Withdrawal Amount (INR )"` → `withdrawalamountinr`.
fn normalise(cell: &str) -> String {
    cell.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A layout matched to a header row: the column index of each role found.
struct Columns {
    layout: &'static Layout,
    index: Vec<(Role, usize)>,
    names: Vec<String>,
}

impl Columns {
    fn of(&self, role: Role) -> Option<usize> {
        self.index.iter().find(|(r, _)| *r == role).map(|(_, i)| *i)
    }
}

fn match_header(cells: &[String]) -> Option<Columns> {
    let names: Vec<String> = cells.iter().map(|c| normalise(c)).collect();
    'layouts: for layout in LAYOUTS {
        let mut index: Vec<(Role, usize)> = Vec::new();
        for (role, spellings) in layout.columns {
            // A flag column beside the balance is the one after it; the others are the first.
            let after = match role {
                Role::BalanceFlag => index
                    .iter()
                    .find(|(r, _)| *r == Role::Balance)
                    .map_or(0, |(_, i)| i + 1),
                _ => 0,
            };
            // The first spelling that names a column wins (`Transaction Date` before `Value Date`).
            let found = spellings.iter().find_map(|spelling| {
                names
                    .iter()
                    .enumerate()
                    .skip(after)
                    .find(|(i, n)| n == spelling && !index.iter().any(|(_, j)| j == i))
                    .map(|(i, _)| i)
            });
            match (found, role) {
                (Some(i), _) => index.push((*role, i)),
                (None, Role::Reference | Role::Balance | Role::BalanceFlag) => {}
                (None, _) => continue 'layouts,
            }
        }
        return Some(Columns {
            layout,
            index,
            names: cells.iter().map(|c| c.trim().to_owned()).collect(),
        });
    }
    None
}

/// Read a statement CSV: find the header row, pick the bank's layout from it and read every row.
pub fn read_csv(bytes: &[u8]) -> Result<Statement, StatementError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(StatementError::TooLarge {
            limit: MAX_FILE_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StatementError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let mut hint = None;
    let mut columns = None;
    for _ in 0..HEADER_SEARCH_LINES {
        let Some(Ok(record)) = records.next() else {
            break;
        };
        let cells = text_cells(&record);
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if hint.is_none() {
            hint = Some(clip(&cells.join(",")).chars().take(200).collect::<String>());
        }
        if let Some(found) = match_header(&cells) {
            columns = Some(found);
            break;
        }
    }
    let Some(columns) = columns else {
        return Err(StatementError::UnknownLayout {
            header_hint: hint.unwrap_or_default(),
        });
    };
    let mut rows = Rows {
        columns: &columns,
        transactions: Vec::new(),
        errors: Vec::new(),
    };
    for record in records {
        let Ok(record) = record else {
            // The csv reader fails only on I/O, which a byte slice cannot give; stop, to be safe.
            break;
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if rows.read(line, &text_cells(&record)) == Flow::Stop
            || rows.errors.len() >= MAX_ROW_ERRORS
        {
            break;
        }
        if rows.transactions.len() > MAX_TRANSACTIONS {
            return Err(StatementError::TooLarge {
                limit: MAX_TRANSACTIONS,
            });
        }
    }
    if !rows.errors.is_empty() {
        return Err(StatementError::Rows(rows.errors));
    }
    let source = Source::Csv {
        bank: columns.layout.bank,
    };
    finish(source, None, rows.transactions, None)
}

fn text_cells(record: &csv::ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// Rows after the header, as they are read.
struct Rows<'a> {
    columns: &'a Columns,
    transactions: Vec<Transaction>,
    errors: Vec<RowError>,
}

const FOOTERS: &[&str] = &[
    "statementsummary",
    "legend",
    "total",
    "closingbalance",
    "endofstatement",
    "generatedon",
    "thisisacomputer",
    "pagetotal",
    "grandtotal",
    "unlessthe",
    "computergenerated",
];
const OPENING: &[&str] = &["openingbalance", "balancebf", "broughtforward", "bf"];

impl Rows<'_> {
    fn cell<'c>(&self, cells: &'c [String], role: Role) -> &'c str {
        self.columns
            .of(role)
            .and_then(|i| cells.get(i))
            .map_or("", |c| c.trim())
    }

    fn error(&mut self, row: usize, role: Role, code: &'static str, rule: String) {
        let field = self
            .columns
            .of(role)
            .and_then(|i| self.columns.names.get(i))
            .cloned()
            .unwrap_or_default();
        self.errors.push(RowError {
            row,
            field,
            code,
            rule,
        });
    }

    /// Read one row after the header.
    fn read(&mut self, line: usize, cells: &[String]) -> Flow {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Flow::Go;
        }
        // Footers and opening balances are written at the left, up to the date column; a
        // narration wrapped onto a dateless row (which may say "total") is further right.
        let date_column = self.columns.of(Role::Date).unwrap_or(0);
        let first = cells
            .iter()
            .take(date_column + 1)
            .map(|c| normalise(c))
            .find(|c| !c.is_empty())
            .unwrap_or_default();
        if FOOTERS.iter().any(|f| first.contains(f)) {
            return Flow::Stop;
        }
        if match_header(cells).is_some() {
            return Flow::Go; // a header repeated at a page break
        }
        let date_text = self.cell(cells, Role::Date);
        let amounts = [Role::Debit, Role::Credit, Role::Amount]
            .iter()
            .any(|r| !self.cell(cells, *r).is_empty());
        let narration = self.cell(cells, Role::Narration);
        if !amounts && OPENING.iter().any(|o| normalise(narration).starts_with(o)) {
            return Flow::Go;
        }
        let dateless = date_text.is_empty() || date_text.chars().all(|c| c == '*' || c == '-');
        if dateless && !amounts {
            // A narration wrapped onto the next line belongs to the row above.
            if let Some(last) = self
                .transactions
                .last_mut()
                .filter(|_| !narration.is_empty())
            {
                last.narration = clip(&format!("{} {narration}", last.narration));
            }
            return Flow::Go;
        }
        if OPENING.iter().any(|o| first.starts_with(o)) && !amounts {
            return Flow::Go;
        }
        if !amounts && self.parse_date(date_text).is_none() {
            return Flow::Go; // a line of text, not a transaction
        }
        let errors_before = self.errors.len();
        let date = self.date(line, date_text);
        let (debit, credit) = self.amounts(line, cells);
        let balance = self.balance(line, cells);
        if self.errors.len() > errors_before {
            return Flow::Go;
        }
        if let (Some(date), Some((debit, credit))) = (date, debit.zip(credit)) {
            let reference = self.cell(cells, Role::Reference);
            self.transactions.push(Transaction {
                date,
                narration: clip(self.cell(cells, Role::Narration)),
                reference: (!reference.is_empty() && reference != "-").then(|| clip(reference)),
                debit,
                credit,
                balance,
            });
        }
        Flow::Go
    }

    fn parse_date(&self, text: &str) -> Option<Date> {
        self.columns
            .layout
            .dates
            .iter()
            .find_map(|f| Date::strptime(f, text).ok())
    }

    fn date(&mut self, line: usize, text: &str) -> Option<Date> {
        let layout = self.columns.layout;
        let found = self.parse_date(text);
        if found.is_none() {
            let rule = format!(
                "must be a date such as {}, got `{}`",
                example(layout.dates),
                clip(text)
            );
            self.error(line, Role::Date, "statement.date", rule);
        }
        found
    }

    /// The debit and credit of a row, from split columns or an amount with its flag.
    fn amounts(&mut self, line: usize, cells: &[String]) -> (Option<i64>, Option<i64>) {
        let split = self.columns.of(Role::Amount).is_none();
        let read = |rows: &mut Self, role: Role| -> Option<i64> {
            match parse_bank_amount(rows.cell(cells, role)) {
                Ok(v) => Some(v.unwrap_or(0)),
                Err(rule) => {
                    rows.error(line, role, "statement.amount", rule);
                    None
                }
            }
        };
        let (debit, credit) = if split {
            (read(self, Role::Debit), read(self, Role::Credit))
        } else {
            let amount = read(self, Role::Amount);
            let flag = normalise(self.cell(cells, Role::Flag));
            match flag.as_str() {
                "dr" | "d" | "debit" => (amount, Some(0)),
                "cr" | "c" | "credit" => (Some(0), amount),
                _ => {
                    let rule = format!(
                        "must be Dr or Cr, got `{}`",
                        clip(self.cell(cells, Role::Flag))
                    );
                    self.error(line, Role::Flag, "statement.flag", rule);
                    (None, None)
                }
            }
        };
        if let (Some(d), Some(c)) = (debit, credit) {
            if d < 0 || c < 0 || (d > 0) == (c > 0) {
                let rule = format!(
                    "must have exactly one positive amount, got debit `{}` and credit `{}`",
                    super::amount::show(d),
                    super::amount::show(c)
                );
                let role = if split { Role::Debit } else { Role::Amount };
                self.error(line, role, "statement.direction", rule);
                return (None, None);
            }
        }
        (debit, credit)
    }

    fn balance(&mut self, line: usize, cells: &[String]) -> Option<i64> {
        let text = self.cell(cells, Role::Balance);
        let value = match parse_bank_amount(text) {
            Ok(v) => v,
            Err(rule) => {
                self.error(line, Role::Balance, "statement.amount", rule);
                return None;
            }
        };
        let flag = normalise(self.cell(cells, Role::BalanceFlag));
        value.map(|v| if flag == "dr" { -v.abs() } else { v })
    }
}

/// A date in the first of `formats`, for error messages.
fn example(formats: &[&str]) -> String {
    let sample = Date::constant(2025, 4, 1);
    formats
        .first()
        .map_or_else(String::new, |f| sample.strftime(f).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(line: &str) -> Vec<String> {
        line.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn headers_pick_their_bank() {
        let cases = [
            (
                "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance",
                Bank::Hdfc,
            ),
            (
                "Txn Date,Value Date,Description,Ref No./Cheque No.,Branch Code,        Debit,Credit,Balance",
                Bank::Sbi,
            ),
            (
                "S No.,Value Date,Transaction Date,Cheque Number,Transaction Remarks,Withdrawal Amount (INR ),Deposit Amount (INR ),Balance (INR )",
                Bank::Icici,
            ),
            (
                "Tran Date,Chq No,Particulars,Debit,Credit,Balance,Init. br",
                Bank::Axis,
            ),
            (
                "S.No,Transaction Date (dd/mm/yyyy),Value Date (dd/mm/yyyy),Particulars,Amount(INR),Debit/Credit,Balance(INR),Cheque Number,Branch Name(SOL)",
                Bank::Axis,
            ),
            (
                "Date,Narration,Chq/Ref No.,Withdrawal (Dr),Deposit (Cr),Balance",
                Bank::Kotak,
            ),
            (
                "Sl.No.,Date,Description,Chq / Ref number,Amount,Dr / Cr,Balance,Dr / Cr",
                Bank::Kotak,
            ),
        ];
        for (header, bank) in cases {
            let found = match_header(&cells(header)).map(|c| c.layout.bank);
            assert_eq!(found, Some(bank), "{header}");
        }
        assert!(match_header(&cells("Date,Amount,Note")).is_none());
    }

    #[test]
    fn kotak_balance_flag_is_the_second_dr_cr() {
        let found = match_header(&cells(
            "Sl.No.,Date,Description,Chq / Ref number,Amount,Dr / Cr,Balance,Dr / Cr",
        ));
        let columns = found.unwrap();
        assert_eq!(columns.of(Role::Flag), Some(5));
        assert_eq!(columns.of(Role::BalanceFlag), Some(7));
    }

    #[test]
    fn date_formats_read() {
        assert_eq!(
            Date::strptime("%d/%m/%y", "01/04/25").ok(),
            Some(Date::constant(2025, 4, 1))
        );
        assert_eq!(
            Date::strptime("%d %b %Y", "05 Aug 2026").ok(),
            Some(Date::constant(2026, 8, 5))
        );
        assert_eq!(
            Date::strptime("%d-%b-%Y", "05-AUG-2026").ok(),
            Some(Date::constant(2026, 8, 5))
        );
        assert!(Date::strptime("%d/%m/%y", "01/04/2025").is_err());
        assert_eq!(example(&["%d %b %Y"]), "01 Apr 2025");
    }
}
