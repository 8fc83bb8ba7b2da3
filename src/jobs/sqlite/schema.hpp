// SPDX-License-Identifier: MIT
#pragma once

// The SQLite schema of the job store and its migrations.

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

}  // namespace afterwork::detail::sqlite
