//! [`OpenOptions`]: how to open a [`File`] (read, write, append, create...).
//!
//! A thin wrapper over `std::fs::OpenOptions` whose `open` runs on the
//! blocking pool (via `File::open_with_create`, which also decides the
//! file's inline policy). It must not hold any state beyond the std
//! builder and whether an open may create the file (std has no getter,
//! and such opens queue per directory: `fs::create`).

use std::io;
use std::path::Path;

use super::File;

/// Options for opening a file, like [`std::fs::OpenOptions`]; `open` is
/// async and runs on the blocking pool.
///
/// ```
/// use corun::fs::OpenOptions;
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-oo-{}", std::process::id()));
///     let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&path).await.unwrap();
///     f.write_all(b"one ").await.unwrap();
///     let mut f = OpenOptions::new().append(true).open(&path).await.unwrap();
///     f.write_all(b"two").await.unwrap();
///     assert_eq!(corun::fs::read_to_string(&path).await.unwrap(), "one two");
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    /// `create`: the open may create the file.
    create: bool,
    /// `create_new`: the open creates the file or fails.
    create_new: bool,
}

impl OpenOptions {
    /// All options off; set at least one of read, write or append.
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().read(true);
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            create: false,
            create_new: false,
        }
    }

    /// Open for reading.
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().read(true);
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.std.read(read);
        self
    }

    /// Open for writing (at the start, over existing bytes unless
    /// `truncate` or `append`).
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().write(true);
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.std.write(write);
        self
    }

    /// Open for appending: every write goes to the end of the file.
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().append(true);
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.std.append(append);
        self
    }

    /// Truncate the file to 0 bytes on open (needs `write`).
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().write(true).truncate(true);
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.std.truncate(truncate);
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().write(true).create(true);
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.std.create(create);
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (atomic;
    /// `create` and `truncate` are then ignored).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-cnew-{}", std::process::id()));
    ///     let mut o = corun::fs::OpenOptions::new();
    ///     o.write(true).create_new(true);
    ///     o.open(&path).await.unwrap();
    ///     let err = o.open(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.std.create_new(create_new);
        self.create_new = create_new;
        self
    }

    /// Sets the permission bits of a newly created file (Unix `mode`,
    /// before the umask; default `0o666`).
    ///
    /// ```
    /// let _ = corun::fs::OpenOptions::new().write(true).create(true).mode(0o600);
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.std, mode);
        self
    }

    /// Extra `open(2)` flags, or-ed in (Unix `custom_flags`), e.g.
    /// `libc::O_SYNC`. A file opened with `O_DIRECT`, `O_SYNC` or `O_DSYNC`
    /// does all its reads and writes on the blocking pool.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-oflags-{}", std::process::id()));
    ///     let mut f = corun::fs::OpenOptions::new()
    ///         .write(true)
    ///         .create(true)
    ///         .custom_flags(libc::O_SYNC)
    ///         .open(&path)
    ///         .await
    ///         .unwrap();
    ///     f.write_all(b"on the device when this returns").await.unwrap();
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.std, flags);
        self
    }

    /// Opens `path` with these options, on the blocking pool.
    ///
    /// ```
    /// corun::run(async {
    ///     let err = corun::fs::OpenOptions::new().read(true).open("/no/such/corun").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let creates = self.create || self.create_new;
        File::open_with_create(self.std.clone(), path.as_ref(), creates).await
    }
}

impl Default for OpenOptions {
    /// Same as [`OpenOptions::new`].
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}
