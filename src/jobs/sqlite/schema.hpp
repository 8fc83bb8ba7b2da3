// SPDX-License-Identifier: MIT
#pragma once

// The SQLite schema of the job store, its migrations, and the set-up of a connection the
// store opens (pragmas, integrity check, migrations).

#include "jobs/sqlite/connection.hpp"

namespace afterwork::detail::sqlite {

/// The schema version `connection` holds: 0 when it has no afterwork tables. Throws JobsError
/// (`corrupt` for a file that is not a database).
int schema_version(Connection& connection);

/// Applies every migration newer than the file's version, each in its own IMMEDIATE
/// transaction that re-reads the version first, so processes opening one file at once migrate
/// it exactly once. Throws JobsError: `version_mismatch` for a newer file, `read_only` when a
/// migration is needed and `writable` is false.
void migrate(Connection& connection, int target_version, bool writable);

/// Sets up a connection the store opened with `options`: WAL (unless read-only), the
/// synchronous mode, foreign keys and the size limit; `PRAGMA quick_check` when asked (throws
/// `corrupt` when it fails); then `migrate` to `target_version`, writable unless the options or
/// the file say read-only.
void configure(Connection& connection, const SqliteOptions& options, int target_version);

/// The WHERE term of the active states, written exactly as in the partial unique index so the
/// planner can use that index.
///
/// The hot statements name their index with INDEXED BY. Without statistics SQLite may prefer
/// the (state, id) index and sort, a scan of every running or waiting job; INDEXED BY pins the
/// partial index, and turns a future schema change that breaks it into an error at prepare time
/// (which the tests see) instead of a silent slowdown at millions of rows.
inline constexpr const char* kActive = "state IN ('scheduled', 'queued', 'running', 'failed')";

}  // namespace afterwork::detail::sqlite
