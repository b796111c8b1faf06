//! Filesystem calls that do not stall other green threads.
//!
//! Linux has no readiness notification for regular files, so (like Go) each
//! call here runs the blocking `std::fs` call inside [`crate::syscall()`]: a
//! quick call costs a few nanoseconds of bookkeeping, and a slow one (a cold
//! disk, a network filesystem) has its processor handed to another machine so
//! the other green threads keep running. The API mirrors `std::fs`.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::syscall;

/// Reads a whole file into bytes (`std::fs::read`).
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    syscall(|| std::fs::read(path))
}

/// Reads a whole file into a string (`std::fs::read_to_string`).
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    syscall(|| std::fs::read_to_string(path))
}

/// Writes a whole file, creating or truncating it (`std::fs::write`).
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    syscall(|| std::fs::write(path, contents))
}

/// Metadata of a path, following symlinks (`std::fs::metadata`).
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<std::fs::Metadata> {
    syscall(|| std::fs::metadata(path))
}

/// Removes a file (`std::fs::remove_file`).
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    syscall(|| std::fs::remove_file(path))
}

/// Creates a directory and its parents (`std::fs::create_dir_all`).
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    syscall(|| std::fs::create_dir_all(path))
}

/// An open file whose reads, writes and seeks go through the syscall
/// handoff. Wraps `std::fs::File`.
#[derive(Debug)]
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Opens a file read-only (`std::fs::File::open`).
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        syscall(|| std::fs::File::open(path)).map(File::from_std)
    }

    /// Creates or truncates a file for writing (`std::fs::File::create`).
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        syscall(|| std::fs::File::create(path)).map(File::from_std)
    }

    /// Opens with explicit options.
    pub fn open_with(options: &std::fs::OpenOptions, path: impl AsRef<Path>) -> io::Result<File> {
        syscall(|| options.open(path)).map(File::from_std)
    }

    /// Wraps an open `std::fs::File`.
    pub fn from_std(inner: std::fs::File) -> File {
        File { inner }
    }

    /// The wrapped `std::fs::File`.
    pub fn into_std(self) -> std::fs::File {
        self.inner
    }

    /// Metadata of the open file.
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        syscall(|| self.inner.metadata())
    }

    /// Flushes data and metadata to the device (`fsync`).
    pub fn sync_all(&self) -> io::Result<()> {
        syscall(|| self.inner.sync_all())
    }

    /// Truncates or extends the file.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        syscall(|| self.inner.set_len(size))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        syscall(|| self.inner.read(buf))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        syscall(|| self.inner.read_to_end(buf))
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        syscall(|| self.inner.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        syscall(|| self.inner.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        syscall(|| self.inner.flush())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        syscall(|| self.inner.seek(pos))
    }
}
