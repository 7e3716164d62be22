//! The file-drop connector: a rail's file format behind [`DebitConnector`].

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{
    DebitConnector, DebitError, DebitItem, FileError, ItemErrors, MAX_FILE_BYTES, Presentation,
    ResponseRead, ascii_text, fixed,
};

/// Longest presentation id a connector accepts back.
const MAX_ID_LEN: usize = 128;
/// Numbers the files written aside before their rename.
static PART: AtomicU64 = AtomicU64::new(0);

/// A rail's presentation and response files, as pure functions of their text.
pub trait DebitFormat: Send + Sync {
    /// The presentation file of the items, or every rule they break.
    fn write(&self, items: &[DebitItem]) -> Result<String, ItemErrors>;
    /// The id of the presentation of these (valid) items: file-name safe (letters, digits, `-`,
    /// `_`) and the same whenever the items are the same.
    fn presentation_id(&self, items: &[DebitItem]) -> String;
    /// The name of the presentation file of `id`.
    fn presentation_file(&self, id: &str) -> String;
    /// The name of the response file that answers `id`.
    fn response_file(&self, id: &str) -> String;
    /// The response read and reconciled against the presentation it answers.
    fn read(&self, presentation: &str, response: &str) -> Result<ResponseRead, FileError>;
}

/// Writes each presentation into `outbox` and reads its answer from `inbox`, under the names
/// the format gives them. A presentation file appears whole or not at all (written aside, then
/// renamed), so a poller picking files up from `outbox` never sees half a file. The connector
/// keeps no state of its own: the files are the state.
#[derive(Debug, Clone)]
pub struct FileConnector<F> {
    format: F,
    outbox: PathBuf,
    inbox: PathBuf,
}

impl<F: DebitFormat> FileConnector<F> {
    pub fn new(format: F, outbox: impl Into<PathBuf>, inbox: impl Into<PathBuf>) -> Self {
        FileConnector {
            format,
            outbox: outbox.into(),
            inbox: inbox.into(),
        }
    }

    /// Where the presentation file of `id` is written.
    pub fn presentation_path(&self, id: &str) -> PathBuf {
        self.outbox.join(self.format.presentation_file(id))
    }

    /// Where the answer to `id` is looked for.
    pub fn response_path(&self, id: &str) -> PathBuf {
        self.inbox.join(self.format.response_file(id))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DebitError + '_ {
    move |source| DebitError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file's bytes, or `None` if there is no such file; refused past [`MAX_FILE_BYTES`].
async fn read_file(path: &Path) -> Result<Option<Vec<u8>>, DebitError> {
    let size = match tokio::fs::metadata(path).await {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    if size > MAX_FILE_BYTES {
        return Err(DebitError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    tokio::fs::read(path).await.map(Some).map_err(io(path))
}

fn text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, DebitError> {
    ascii_text(bytes).map_err(|source| DebitError::File {
        path: path.to_owned(),
        source,
    })
}

#[async_trait]
impl<F: DebitFormat> DebitConnector for FileConnector<F> {
    async fn present(&self, items: &[DebitItem]) -> Result<Presentation, DebitError> {
        let contents = self.format.write(items).map_err(DebitError::Invalid)?;
        let id = self.format.presentation_id(items);
        let file_name = self.format.presentation_file(&id);
        let total: i128 = items.iter().map(|i| i128::from(i.amount_minor)).sum();
        let presentation = Presentation {
            id,
            file_name: file_name.clone(),
            items: items.len(),
            total_minor: i64::try_from(total).unwrap_or(i64::MAX),
        };
        let path = self.outbox.join(&file_name);
        // The same items were presented before: that file stands (it may already be with the
        // bank); never a second one.
        if tokio::fs::try_exists(&path).await.map_err(io(&path))? {
            return Ok(presentation);
        }
        tokio::fs::create_dir_all(&self.outbox)
            .await
            .map_err(io(&self.outbox))?;
        // Written aside under a name of its own (two presents of the same items may race; the
        // second rename then replaces the first with the same items).
        let part = self.outbox.join(format!(
            ".{file_name}.{}-{}.part",
            std::process::id(),
            PART.fetch_add(1, Ordering::Relaxed)
        ));
        tokio::fs::write(&part, contents.as_bytes())
            .await
            .map_err(io(&part))?;
        tokio::fs::rename(&part, &path).await.map_err(io(&path))?;
        Ok(presentation)
    }

    async fn collect(&self, presentation_id: &str) -> Result<ResponseRead, DebitError> {
        let id_ok = !presentation_id.is_empty()
            && presentation_id.len() <= MAX_ID_LEN
            && presentation_id.bytes().all(fixed::is_reference_char);
        if !id_ok {
            return Err(DebitError::BadId {
                id: presentation_id.to_owned(),
            });
        }
        let presented_path = self.presentation_path(presentation_id);
        let Some(presented) = read_file(&presented_path).await? else {
            return Err(DebitError::UnknownPresentation {
                id: presentation_id.to_owned(),
                path: presented_path,
            });
        };
        let response_path = self.response_path(presentation_id);
        let Some(response) = read_file(&response_path).await? else {
            return Err(DebitError::NoResponse {
                id: presentation_id.to_owned(),
                path: response_path,
            });
        };
        let presented = text(&presented_path, &presented)?;
        let response = text(&response_path, &response)?;
        self.format
            .read(presented, response)
            .map_err(|source| DebitError::File {
                path: response_path,
                source,
            })
    }
}
